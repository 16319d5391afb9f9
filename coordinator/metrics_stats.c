/*
 * metrics_stats.c - formulas of metrics.md sections 1-6 on plain numbers.
 *
 * Kept free of cells and I/O so that each formula can be checked against
 * the specification's worked examples. Quantiles: GSL (normal, chi-square,
 * Student t).
 */
#include "metrics_stats.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stddef.h>

static void mstat_clear(struct mstat *o)
{
    o->value = o->lower = o->upper = o->se = NAN;
}

double mstat_z(double conf)
{
    return gsl_cdf_ugaussian_Pinv(1.0 - (1.0 - conf) / 2.0);
}

int mstat_proportion(double x, double d, double conf, struct mstat *o)
{
    mstat_clear(o);
    if (!(d > 0) || x < 0 || x > d)
        return MSTAT_EDOMAIN;
    double z = mstat_z(conf), p = x / d;
    double half = z * sqrt(z * z + 4.0 * x * (1.0 - p));
    o->value = p;
    o->se = sqrt(p * (1.0 - p) / d);
    o->lower = (2.0 * x + z * z - half) / (2.0 * (d + z * z));
    o->upper = (2.0 * x + z * z + half) / (2.0 * (d + z * z));
    if (o->lower < 0)
        o->lower = 0;
    if (o->upper > 1)
        o->upper = 1;
    return MSTAT_OK;
}

void mstat_byar_limits(double O, double z, double *lo, double *hi)
{
    double l = O > 0 ? O * pow(1.0 - 1.0 / (9.0 * O) - z / (3.0 * sqrt(O)), 3) : 0;
    double u = (O + 1) * pow(1.0 - 1.0 / (9.0 * (O + 1)) + z / (3.0 * sqrt(O + 1)), 3);
    *lo = l > 0 ? l : 0;
    *hi = u;
}

void mstat_poisson_limits(double O, double conf, double *lo, double *hi)
{
    double a = 1.0 - conf;
    if (O >= 10) {
        mstat_byar_limits(O, mstat_z(conf), lo, hi);
        return;
    }
    *lo = O > 0 ? gsl_cdf_chisq_Pinv(a / 2.0, 2.0 * O) / 2.0 : 0;
    *hi = gsl_cdf_chisq_Pinv(1.0 - a / 2.0, 2.0 * O + 2.0) / 2.0;
}

int mstat_rate(double x, double months, double conf, struct mstat *o)
{
    mstat_clear(o);
    if (!(months > 0) || x < 0)
        return MSTAT_EDOMAIN;
    double lo, hi;
    mstat_poisson_limits(x, conf, &lo, &hi);
    o->value = 12000.0 * x / months;
    o->se = 12000.0 * sqrt(x) / months;
    o->lower = 12000.0 * lo / months;
    o->upper = 12000.0 * hi / months;
    return MSTAT_OK;
}

int mstat_mean(double x, double d, double q, double conf, struct mstat *o)
{
    mstat_clear(o);
    if (!(d >= 2))
        return MSTAT_EDOMAIN;
    double m = x / d;
    double s2 = (q - x * x / d) / (d - 1.0);
    if (s2 < 0)
        s2 = 0;
    double se = sqrt(s2 / d);
    double t = gsl_cdf_tdist_Pinv(1.0 - (1.0 - conf) / 2.0, d - 1.0);
    o->value = m;
    o->se = se;
    o->lower = m - t * se;
    o->upper = m + t * se;
    return MSTAT_OK;
}

int mstat_pmpm(double x, double n, double months, double q, double conf, struct mstat *o)
{
    mstat_clear(o);
    if (!(n >= 2) || !(months > 0))
        return MSTAT_EDOMAIN;
    double c = x / months;
    double s2 = (q - x * x / n) / (n - 1.0);
    if (s2 < 0)
        s2 = 0;
    double se = sqrt(s2) * sqrt(n) / months, z = mstat_z(conf);
    o->value = c;
    o->se = se;
    o->lower = c - z * se;
    o->upper = c + z * se;
    return MSTAT_OK;
}

int mstat_dsr(int n, const double *x, const double *months, const double *w,
              double min_count, double conf, struct mstat *o)
{
    mstat_clear(o);
    double sw = 0, sr = 0, v = 0, O = 0;
    for (int i = 0; i < n; i++) {
        if (!(months[i] > 0))
            return MSTAT_EDOMAIN;
        sw += w[i];
        sr += w[i] * x[i] / months[i];
        v += x[i] * (w[i] / months[i]) * (w[i] / months[i]);
        O += x[i];
    }
    if (n <= 0 || !(sw > 0))
        return MSTAT_EDOMAIN;
    if (O < min_count || !(O > 0))
        return MSTAT_EMINCOUNT;
    double dsr = sr / sw, var = v / (sw * sw), lo, hi;
    mstat_byar_limits(O, mstat_z(conf), &lo, &hi);
    o->value = 12000.0 * dsr;
    o->se = 12000.0 * sqrt(var);
    o->lower = 12000.0 * (dsr + sqrt(var / O) * (lo - O));
    o->upper = 12000.0 * (dsr + sqrt(var / O) * (hi - O));
    return MSTAT_OK;
}

int mstat_rd(double yg, double seg, double yr, double ser, double conf, struct mstat *o)
{
    double z = mstat_z(conf);
    o->value = yg - yr;
    o->se = sqrt(seg * seg + ser * ser);
    o->lower = o->value - z * o->se;
    o->upper = o->value + z * o->se;
    return MSTAT_OK;
}

int mstat_rr(double yg, double seg, double yr, double ser, double conf, struct mstat *o)
{
    mstat_clear(o);
    if (yg == 0 || yr == 0)
        return MSTAT_EUNDEFINED;
    double z = mstat_z(conf);
    double a = seg / yg, b = ser / yr;
    o->value = yg / yr;
    o->se = sqrt(a * a + b * b); /* of ln RR */
    o->lower = o->value * exp(-z * o->se);
    o->upper = o->value * exp(z * o->se);
    return MSTAT_OK;
}

double mstat_mu(const struct mgroup *g, int J)
{
    double mu = 0;
    for (int j = 0; j < J; j++)
        mu += g[j].p * g[j].y;
    return mu;
}

/* Symmetric interval estimate -/+ z SE, optionally floored at 0. */
static void interval(struct mstat *o, double z, int floor0)
{
    o->lower = o->value - z * o->se;
    o->upper = o->value + z * o->se;
    if (floor0 && o->lower < 0)
        o->lower = 0;
}

int mstat_bgv(const struct mgroup *g, int J, double conf, struct mstat *o)
{
    mstat_clear(o);
    if (J < 1)
        return MSTAT_EFEWGROUPS;
    double mu = mstat_mu(g, J), bgv = 0, A = 0, B = 0, C = 0, D = 0;
    for (int j = 0; j < J; j++) {
        double p = g[j].p, s2 = g[j].se * g[j].se, dy = g[j].y - mu;
        bgv += p * dy * dy;
        A += p * p * s2 * dy * dy;
        B += p * p * s2;
        C += p * p * p * p * s2 * s2;
        D += p * p * (1 - p) * (1 - p) * s2 * s2;
    }
    double v = 4 * A + 2 * (B * B - C + D);
    o->value = bgv;
    o->se = sqrt(v > 0 ? v : 0);
    interval(o, mstat_z(conf), 1);
    return MSTAT_OK;
}

int mstat_idisp(const struct mgroup *g, int J, double r, struct mstat *o)
{
    mstat_clear(o);
    if (J < 1)
        return MSTAT_EFEWGROUPS;
    if (r == 0)
        return MSTAT_EUNDEFINED;
    double s = 0;
    for (int j = 0; j < J; j++)
        s += fabs(g[j].y - r) / r;
    o->value = 100.0 * s / J;
    return MSTAT_OK;
}

int mstat_idisp_w(const struct mgroup *g, int J, struct mstat *o)
{
    mstat_clear(o);
    if (J < 1)
        return MSTAT_EFEWGROUPS;
    double mu = mstat_mu(g, J), s = 0;
    if (mu == 0)
        return MSTAT_EUNDEFINED;
    for (int j = 0; j < J; j++)
        s += g[j].p * fabs(g[j].y - mu);
    o->value = 100.0 * s / mu;
    return MSTAT_OK;
}

int mstat_mld(const struct mgroup *g, int J, double conf, struct mstat *o)
{
    mstat_clear(o);
    if (J < 1)
        return MSTAT_EFEWGROUPS;
    double mu = mstat_mu(g, J), v = 0, m = 0;
    if (!(mu > 0))
        return MSTAT_EUNDEFINED;
    for (int j = 0; j < J; j++) {
        if (!(g[j].y > 0))
            return MSTAT_EUNDEFINED;
        double a = g[j].p * g[j].se / mu, b = 1 - mu / g[j].y;
        m += g[j].p * log(mu / g[j].y);
        v += a * a * b * b;
    }
    o->value = m;
    o->se = sqrt(v);
    interval(o, mstat_z(conf), 1);
    return MSTAT_OK;
}

int mstat_theil(const struct mgroup *g, int J, double conf, struct mstat *o)
{
    mstat_clear(o);
    if (J < 1)
        return MSTAT_EFEWGROUPS;
    double mu = mstat_mu(g, J), t = 0, v = 0;
    int zero = 0;
    if (!(mu > 0))
        return MSTAT_EUNDEFINED;
    for (int j = 0; j < J; j++) {
        double r = g[j].y / mu;
        if (r > 0)
            t += g[j].p * r * log(r);
        else
            zero = 1;
    }
    o->value = t;
    if (zero)
        return MSTAT_OK;
    for (int j = 0; j < J; j++) {
        double a = g[j].p * g[j].se / mu, b = log(g[j].y / mu) - t;
        v += a * a * b * b;
    }
    o->se = sqrt(v);
    interval(o, mstat_z(conf), 1);
    return MSTAT_OK;
}

/* Ridit ranks R_j = sum_{k<j} p_k + p_j / 2. */
static void ranks(const struct mgroup *g, int J, double *R)
{
    double cum = 0;
    for (int j = 0; j < J; j++) {
        R[j] = cum + g[j].p / 2;
        cum += g[j].p;
    }
}

enum { MAX_ORDERED = 64 };

int mstat_sii(const struct mgroup *g, int J, double conf, struct mstat *sii, struct mstat *rii)
{
    double R[MAX_ORDERED], c[MAX_ORDERED];
    mstat_clear(sii);
    mstat_clear(rii);
    if (J < 2 || J > MAX_ORDERED)
        return MSTAT_EFEWGROUPS;
    ranks(g, J, R);
    double S = 0;
    for (int j = 0; j < J; j++)
        S += g[j].p * (R[j] - 0.5) * (R[j] - 0.5);
    if (!(S > 0))
        return MSTAT_EDOMAIN;
    double b = 0, v = 0, z = mstat_z(conf);
    for (int j = 0; j < J; j++) {
        c[j] = g[j].p * (R[j] - 0.5) / S;
        b += c[j] * g[j].y;
        v += c[j] * c[j] * g[j].se * g[j].se;
    }
    double a = mstat_mu(g, J) - b / 2;
    sii->value = b;
    sii->se = sqrt(v);
    interval(sii, z, 0);
    if (a == 0 || (a + b) / a <= 0)
        return MSTAT_EUNDEFINED;
    double vl = 0;
    for (int j = 0; j < J; j++) {
        double e = g[j].p - c[j] / 2, k = (e + c[j]) / (a + b) - e / a;
        vl += k * k * g[j].se * g[j].se;
    }
    rii->value = (a + b) / a;
    rii->se = sqrt(vl); /* of ln RII */
    rii->lower = rii->value * exp(-z * rii->se);
    rii->upper = rii->value * exp(z * rii->se);
    return MSTAT_OK;
}

int mstat_aci(const struct mgroup *g, int J, double conf, struct mstat *aci, struct mstat *rci)
{
    double R[MAX_ORDERED];
    mstat_clear(aci);
    mstat_clear(rci);
    if (J < 2 || J > MAX_ORDERED)
        return MSTAT_EFEWGROUPS;
    ranks(g, J, R);
    double mu = mstat_mu(g, J), s = 0, v = 0, z = mstat_z(conf);
    for (int j = 0; j < J; j++) {
        double k = g[j].p * (2 * R[j] - 1) * g[j].se;
        s += g[j].p * g[j].y * R[j];
        v += k * k;
    }
    aci->value = 2 * s - mu;
    aci->se = sqrt(v);
    interval(aci, z, 0);
    if (mu == 0)
        return MSTAT_EUNDEFINED;
    double rc = aci->value / mu, vr = 0;
    for (int j = 0; j < J; j++) {
        double k = g[j].p * (2 * R[j] - 1 - rc) * g[j].se;
        vr += k * k;
    }
    rci->value = rc;
    rci->se = sqrt(vr) / fabs(mu);
    interval(rci, z, 0);
    return MSTAT_OK;
}

void mstat_funnel_proportion(double p0, double d, double conf, double *lo, double *hi)
{
    double h = d > 0 ? mstat_z(conf) * sqrt(p0 * (1 - p0) / d) : INFINITY;
    *lo = p0 - h < 0 ? 0 : p0 - h;
    *hi = p0 + h > 1 ? 1 : p0 + h;
}

int mstat_heterogeneity(double q, int k, double *i2, double *pvalue)
{
    *i2 = *pvalue = NAN;
    if (k < 2 || !(q >= 0))
        return MSTAT_EDOMAIN;
    *i2 = q > 0 ? (q - (k - 1)) / q : 0;
    if (*i2 < 0)
        *i2 = 0;
    *pvalue = gsl_cdf_chisq_Q(q, (double)(k - 1));
    return MSTAT_OK;
}

int mstat_heba(double m_top, double m_bottom, double m_all, double top_pbpm,
               double bottom_pbpm, double *pbpm, double *total)
{
    *pbpm = *total = NAN;
    if (!(m_all > 0))
        return MSTAT_EDOMAIN;
    *pbpm = (top_pbpm * m_top - bottom_pbpm * m_bottom) / m_all;
    *total = *pbpm * m_all;
    return MSTAT_OK;
}

double mstat_mssp_points(double share_q5, double share_dual, double scaler,
                         double threshold, double cap)
{
    double m = share_q5 > share_dual ? share_q5 : share_dual;
    if (!(m >= threshold))
        return 0;
    double pts = scaler * m;
    return pts < cap ? pts : cap;
}

int mstat_incentive(int n, const double *d0, const double *d1, double pool, int mode,
                    double *pay)
{
    if (n < 0 || (mode != MSTAT_INCENTIVE_SHARE && mode != MSTAT_INCENTIVE_EARN))
        return MSTAT_EDOMAIN;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double imp = d0[i] - d1[i];
        sum += imp > 0 ? imp : 0;
    }
    for (int i = 0; i < n; i++) {
        double imp = d0[i] - d1[i];
        if (imp < 0)
            imp = 0;
        if (mode == MSTAT_INCENTIVE_SHARE) {
            pay[i] = sum > 0 ? pool * imp / sum : 0;
        } else {
            double f = d0[i] > 0 ? imp / d0[i] : 0;
            pay[i] = pool * (f < 1 ? f : 1);
        }
    }
    return MSTAT_OK;
}
