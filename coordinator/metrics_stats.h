/*
 * metrics_stats.h - the formulas of metrics.md, on plain numbers.
 *
 * Every function here is a pure computation over sufficient statistics
 * (counts, sums, shares): no cells, no files. metrics.c applies them to
 * cell sets and writes the rows; tests check them against the worked
 * examples of the specification. Quantiles come from GSL.
 *
 * Results go into a struct mstat; a part that does not exist (an index
 * without interval, an undefined value) is NaN. Functions that can fail
 * return 0, or a negative MSTAT_E* code saying why nothing was computed.
 */
#ifndef EQ_METRICS_STATS_H
#define EQ_METRICS_STATS_H

enum {
    MSTAT_OK = 0,
    MSTAT_EDOMAIN = -1,    /* inputs outside the formula's domain (d = 0, N < 2) */
    MSTAT_EUNDEFINED = -2, /* the value is undefined (a ratio with a zero)       */
    MSTAT_EMINCOUNT = -3,  /* too few events (DSR: O < 10)                        */
    MSTAT_EFEWGROUPS = -4  /* too few groups for an index                        */
};

struct mstat {
    double value, lower, upper, se;
};

/* A group of a stratifier for the summary indices: estimate y in output
 * units, its standard error, and its population share p (sum p = 1). */
struct mgroup {
    double y, se, p;
};

/* Normal quantile at 1 - (1-conf)/2 (1.959964 at 0.95). */
double mstat_z(double conf);

/* Section 1. Proportion x/d with the Wilson interval; EDOMAIN when d <= 0
 * or x outside [0, d]. */
int mstat_proportion(double x, double d, double conf, struct mstat *o);
/* Poisson limits on a count O: exact (chi-square) for O < 10, Byar from 10. */
void mstat_poisson_limits(double O, double conf, double *lo, double *hi);
/* Byar's limits alone (used by the Dobson DSR interval). */
void mstat_byar_limits(double O, double z, double *lo, double *hi);
/* Rate per 1,000 member-years, 12000 x / months; EDOMAIN when months <= 0. */
int mstat_rate(double x, double months, double conf, struct mstat *o);
/* Mean x/d with variance from q = sum of squares, t interval; EDOMAIN when
 * d < 2. */
int mstat_mean(double x, double d, double q, double conf, struct mstat *o);
/* Cost per member per month x/months, n members, q = sum of squares of
 * per-member cost; EDOMAIN when n < 2 or months <= 0. */
int mstat_pmpm(double x, double n, double months, double q, double conf, struct mstat *o);

/* Section 2. Directly age-standardised rate per 1,000 member-years over n
 * age groups (x events, months, weights w), Dobson interval. EDOMAIN when a
 * months value is 0, EMINCOUNT when sum x < min_count. */
int mstat_dsr(int n, const double *x, const double *months, const double *w,
              double min_count, double conf, struct mstat *o);

/* Section 3. Rate difference and ratio of (yg, seg) against (yr, ser).
 * mstat_rr returns EUNDEFINED when yg or yr is 0. */
int mstat_rd(double yg, double seg, double yr, double ser, double conf, struct mstat *o);
int mstat_rr(double yg, double seg, double yr, double ser, double conf, struct mstat *o);

/* Section 4. Indices across J groups. mu = sum p_j y_j. */
double mstat_mu(const struct mgroup *g, int J);
/* Between-group variance with the WHO standard error; interval floored at 0. */
int mstat_bgv(const struct mgroup *g, int J, double conf, struct mstat *o);
/* Index of disparity against reference value r (x100); no interval.
 * EUNDEFINED when r = 0. */
int mstat_idisp(const struct mgroup *g, int J, double r, struct mstat *o);
/* Population-weighted index of disparity against mu (x100). */
int mstat_idisp_w(const struct mgroup *g, int J, struct mstat *o);
/* Mean log deviation and Theil T with standard errors; EUNDEFINED when some
 * y_j = 0 (MLD); Theil is computed with 0 ln 0 = 0 but has no SE then. */
int mstat_mld(const struct mgroup *g, int J, double conf, struct mstat *o);
int mstat_theil(const struct mgroup *g, int J, double conf, struct mstat *o);
/* Ordered groups (most disadvantaged first): slope and relative index of
 * inequality, absolute and relative concentration index. rii/rci get
 * EUNDEFINED when the intercept (or mu) is 0. */
int mstat_sii(const struct mgroup *g, int J, double conf, struct mstat *sii, struct mstat *rii);
int mstat_aci(const struct mgroup *g, int J, double conf, struct mstat *aci, struct mstat *rci);

/* Section 5. Funnel limits of a proportion p0 at denominator d, clipped to
 * [0, 1]. */
void mstat_funnel_proportion(double p0, double d, double conf, double *lo, double *hi);
/* I^2 and the chi-square p-value of a heterogeneity statistic q over k
 * organizations (k - 1 degrees of freedom); EDOMAIN when k < 2. */
int mstat_heterogeneity(double q, int k, double *i2, double *pvalue);

/* Section 6. Health equity benchmark adjustment: (top_pbpm M_top -
 * bottom_pbpm M_bottom) / M_all per beneficiary per month (ACO REACH: 30
 * and 6), and the total dollars it * M_all. */
int mstat_heba(double m_top, double m_bottom, double m_all, double top_pbpm,
               double bottom_pbpm, double *pbpm, double *total);
/* MSSP-style equity points: m = max(share_q5, share_dual); min(cap, scaler m)
 * when m >= threshold, else 0. */
double mstat_mssp_points(double share_q5, double share_dual, double scaler,
                         double threshold, double cap);
enum { MSTAT_INCENTIVE_SHARE = 0, MSTAT_INCENTIVE_EARN = 1 };
/* Gap-closure incentive for n organizations with disparities d0 (baseline)
 * and d1 (now): I_i = max(0, d0_i - d1_i). Mode SHARE: pay_i = pool I_i /
 * sum I (all 0 when the sum is 0); mode EARN: pay_i = pool_i min(1,
 * I_i / d0_i) with pool_i = pool (0 when d0_i <= 0). */
int mstat_incentive(int n, const double *d0, const double *d1, double pool, int mode,
                    double *pay);

#endif
