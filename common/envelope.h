/*
 * envelope.h - the Envelope every message travels in, and the small
 * messages of the round protocol (RoundRequest, Ack, Error, Refusal,
 * Hello, NodeStatus), encoded with protobuf-c (proto/equity.proto).
 *
 * Every *_unpack function takes untrusted bytes: it checks the protocol
 * version, lengths and names, copies what it keeps, and says what was
 * wrong in err. See docs/protocol.md for the message flow.
 */
#ifndef EQ_ENVELOPE_H
#define EQ_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "catalog.h"
#include "identity.h"

#define ENVELOPE_ID_LEN 16
#define ENVELOPE_MAX_PAYLOAD (64u * 1024 * 1024)
#define ROUND_MAX_INTER 32

/* Message types: the values of MessageType in equity.proto. */
enum {
    MSG_ROUND_REQUEST = 1, MSG_SUBMISSION = 2, MSG_ACK = 3, MSG_REFUSAL = 4,
    MSG_HELLO = 5, MSG_QUERY = 6, MSG_QUERY_RESULT = 7, MSG_ERROR = 8, MSG_NODE_STATUS = 9
};
const char *envelope_type_name(int type);

struct envelope {
    int type;
    uint8_t message_id[ENVELOPE_ID_LEN];
    uint8_t *payload;
    size_t payload_len;
    uint8_t *signature;
    size_t signature_len;
    uint8_t *signer_cert;     /* DER */
    size_t signer_cert_len;
};

/* Wraps payload in an envelope with a fresh random message id (copied to
 * message_id when not NULL). With sign_key (Ed25519) and sign_cert the
 * payload is signed and the certificate attached. *out is malloc'ed.
 * Returns 0 or -1. */
int envelope_pack(int type, const uint8_t *payload, size_t len, EVP_PKEY *sign_key,
                  X509 *sign_cert, uint8_t **out, size_t *outlen,
                  uint8_t message_id[ENVELOPE_ID_LEN]);

/* Parses an envelope (copies everything into e; free with envelope_free).
 * Rejects a wrong protocol version, an unknown type, a message id that is
 * not 16 bytes, a signature without a certificate. Returns 0 or -1. */
int envelope_unpack(const uint8_t *buf, size_t len, struct envelope *e, char *err, size_t errlen);
void envelope_free(struct envelope *e);

/* Verifies a signed envelope: the signer certificate chains to the CA, is
 * valid and unrevoked, is a signing certificate, its CN equals expected_cn
 * (when not NULL), and the signature covers the payload. Returns 0 or an
 * identity_err. */
int envelope_verify(trust_t *t, const struct envelope *e, const char *expected_cn,
                    struct identity_info *signer);

struct round_request {
    char round_id[64];
    char period[32];
    unsigned char measure_on[CATALOG_MAX_MEASURES];
    unsigned char strat_on[S__COUNT];     /* S_TOTAL always on           */
    int inter[ROUND_MAX_INTER][CATALOG_INTER_DIM]; /* catalog_inter_parse */
    int n_inter;
    unsigned k;
    char deadline[32];                    /* RFC 3339 UTC                */
    unsigned min_orgs;
    int per_org_to_analysts;
    int allow_single_org;
    char agreement[512];
    char coordinator[128];
    char opened_at[32];
    /* The catalog the round's measures are defined in (catalog.h). */
    char catalog_name[64];
    char catalog_version[32];
    char catalog_sha256[65];
    /* Measures the request names that the active catalog does not hold
     * (only when its catalog is another one: the node refuses it then). */
    int n_unknown_measures;
};

int round_request_pack(const struct round_request *r, uint8_t **out, size_t *len);
/* Parses and checks names (measures, stratifiers, intersections must be in
 * the catalog; k 2..1000). Returns 0 or -1. */
int round_request_unpack(const uint8_t *buf, size_t len, struct round_request *r,
                         char *err, size_t errlen);

/* Small messages. Strings are copied into the caller's buffers. */
int ack_pack(const uint8_t message_id[ENVELOPE_ID_LEN], const char *round_id,
             const char *stored_sha256, int duplicate, int late, uint8_t **out, size_t *len);
struct ack {
    uint8_t message_id[ENVELOPE_ID_LEN];
    char round_id[64];
    char stored_sha256[65];
    int duplicate, late;
};
int ack_unpack(const uint8_t *buf, size_t len, struct ack *a, char *err, size_t errlen);

int error_pack(const uint8_t message_id[ENVELOPE_ID_LEN], const char *code, const char *message,
               uint8_t **out, size_t *len);
struct error_msg {
    uint8_t message_id[ENVELOPE_ID_LEN];
    char code[48];
    char message[256];
};
int error_unpack(const uint8_t *buf, size_t len, struct error_msg *m, char *err, size_t errlen);

int refusal_pack(const char *round_id, const char *org, const char *reason, uint8_t **out, size_t *len);
struct refusal {
    char round_id[64];
    char org[128];
    char reason[512];
};
int refusal_unpack(const uint8_t *buf, size_t len, struct refusal *r, char *err, size_t errlen);

int hello_pack(const char *org, const char *software, uint8_t **out, size_t *len);
struct hello {
    char org[128];
    char software[64];
};
int hello_unpack(const uint8_t *buf, size_t len, struct hello *h, char *err, size_t errlen);

/* NodeStatus: why a node has not answered a round it received (the values
 * of NodeState in equity.proto). */
enum { NODE_STATE_HELD = 1, NODE_STATE_FAILING = 2 };
#define NODE_STATUS_CODE_MAX 32
#define NODE_STATUS_REASON_MAX 300
#define NODE_STATUS_MAX_PAYLOAD 1024
/* "held", "failing", or NULL for any other value. */
const char *node_state_name(int state);
struct node_status {
    char round_id[64];
    char org[128];
    int state;                              /* NODE_STATE_HELD or _FAILING */
    char code[NODE_STATUS_CODE_MAX + 1];     /* [a-z0-9_]{1,32}             */
    char reason[NODE_STATUS_REASON_MAX + 1];
};
/* Packs a NodeStatus (*out malloc'ed). -1 if a field breaks the rules that
 * node_status_unpack checks. */
int node_status_pack(const struct node_status *st, uint8_t **out, size_t *len);
/* Parses untrusted bytes: at most NODE_STATUS_MAX_PAYLOAD, round_id and org
 * non-empty, state HELD or FAILING, code 1-32 of [a-z0-9_], reason at most
 * NODE_STATUS_REASON_MAX bytes, no control characters anywhere. 0 or -1
 * with the reason in err. */
int node_status_unpack(const uint8_t *buf, size_t len, struct node_status *st, char *err,
                       size_t errlen);

#endif
