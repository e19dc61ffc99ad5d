/* Keys, signatures and tokens (OpenSSL's libcrypto).
 *
 * The signing key is Ed25519; its JWK `kid` is "ds_" + the RFC 7638
 * thumbprint (base64url SHA-256 of {"crv":"Ed25519","kty":"OKP","x":...}).
 * Webhook-Signature: t=<unix seconds>,kid=<kid>,ed25519=<base64url of the
 * signature over "<t>.<body>">.
 *
 * Tokens are opaque to clients: "<generation>.<expiry unix s>.<nonce>.<mac>"
 * with mac = base64url HMAC-SHA256(key, "<subscription id>\n" + the first
 * three parts), so a token only ever speaks for one subscription and one
 * generation. Both keys are created once and kept as the document
 * SUBS_KEYS_DOC (hex), so signatures and tokens stay valid across restarts. */
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/errf.h"
#include "internal.h"
#include "streamsy/alloc.h"

#define MAX_TOKEN_CLAIMS 96 /* "<generation>.<expiry>.<16 hex>" */

/* Base64url without padding into out (cap bytes); 0 when it does not fit. */
static size_t b64url(const unsigned char *in, size_t len, char *out, size_t cap) {
    return cap > SS_BASE64_ENCODED_LEN(len) ? ss__base64_encode(in, len, true, out) : 0;
}

static void to_hex(const unsigned char *in, size_t len, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static bool from_hex(const char *in, unsigned char *out, size_t len) {
    if (!in || strlen(in) != 2 * len)
        return false;
    for (size_t i = 0; i < len; i++) {
        int hi = ss_hex_value(in[2 * i]), lo = ss_hex_value(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi * 16 + lo);
    }
    return true;
}

void ss__subs_random_hex(char *out, size_t n_hex) {
    unsigned char raw[64];
    size_t n = (n_hex + 1) / 2 < sizeof raw ? (n_hex + 1) / 2 : sizeof raw;
    if (RAND_bytes(raw, (int)n) != 1) /* cannot happen on Linux after boot; never leave zeros */
        for (size_t i = 0; i < n; i++)
            raw[i] = (unsigned char)rand();
    char hex[129];
    to_hex(raw, n, hex);
    memcpy(out, hex, n_hex);
    out[n_hex] = '\0';
}

uint32_t ss__subs_random_u32(void) {
    uint32_t v;
    if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
        v = (uint32_t)rand();
    return v;
}

void ss__subs_sha256_hex(const char *s, size_t len, char out[65]) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, len, md);
    to_hex(md, sizeof md, out);
}

/* ---- keys ------------------------------------------------------------------------------ */

typedef struct keys_doc {
    bool found;
    char sign_hex[65], hmac_hex[65];
} keys_doc;

static void read_keys(void *ctx, ss_slice key, ss_slice value) {
    keys_doc *k = ctx;
    if (!ss_slice_eq_cstr(key, SUBS_KEYS_DOC))
        return;
    json_t *j = json_loadb(value.p, value.len, 0, NULL);
    const char *sign = json_string_value(json_object_get(j, "ed25519"));
    const char *hmac = json_string_value(json_object_get(j, "hmac"));
    if (sign && hmac && strlen(sign) == 64 && strlen(hmac) == 64) {
        memcpy(k->sign_hex, sign, 65);
        memcpy(k->hmac_hex, hmac, 65);
        k->found = true;
    }
    json_decref(j);
}

static ss_rc derive_kid(ss_subs *s) {
    unsigned char pub[32];
    size_t len = sizeof pub;
    if (EVP_PKEY_get_raw_public_key(s->sign_key, pub, &len) != 1 || len != 32)
        return SS_IOERR;
    b64url(pub, len, s->jwk_x, sizeof s->jwk_x);
    char canonical[128];
    int n = snprintf(canonical, sizeof canonical, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", s->jwk_x);
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)canonical, (size_t)n, md);
    memcpy(s->kid, "ds_", 3);
    b64url(md, sizeof md, s->kid + 3, sizeof s->kid - 3);
    return SS_OK;
}

ss_rc ss__subs_keys_load(ss_subs *s, char *err, size_t err_cap) {
    keys_doc k = {0};
    ss_rc rc = ss_storage_doc_for_each(s->storage, ss_slice_cstr(SUBS_KEYS_DOC), read_keys, &k);
    if (rc) {
        ss__fail(err, err_cap, "cannot read the subscription keys: %s", ss_rc_str(rc));
        return rc;
    }
    unsigned char priv[32];
    if (k.found) {
        if (!from_hex(k.sign_hex, priv, sizeof priv) || !from_hex(k.hmac_hex, s->hmac_key, sizeof s->hmac_key)) {
            ss__fail(err, err_cap, "the stored subscription keys are unreadable (document %s)", SUBS_KEYS_DOC);
            return SS_CORRUPT;
        }
    } else if (RAND_bytes(priv, sizeof priv) != 1 || RAND_bytes(s->hmac_key, sizeof s->hmac_key) != 1) {
        ss__fail(err, err_cap, "no random bytes for the subscription keys");
        return SS_IOERR;
    }
    s->sign_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, priv, sizeof priv);
    if (!s->sign_key || derive_kid(s)) {
        OPENSSL_cleanse(priv, sizeof priv);
        ss__fail(err, err_cap, "cannot set up the Ed25519 signing key");
        return SS_IOERR;
    }
    if (!k.found) {
        char sign_hex[65], hmac_hex[65], doc[160];
        to_hex(priv, sizeof priv, sign_hex);
        to_hex(s->hmac_key, sizeof s->hmac_key, hmac_hex);
        int n = snprintf(doc, sizeof doc, "{\"ed25519\":\"%s\",\"hmac\":\"%s\"}", sign_hex, hmac_hex);
        OPENSSL_cleanse(sign_hex, sizeof sign_hex);
        rc = ss_storage_doc_put(s->storage, ss_slice_cstr(SUBS_KEYS_DOC), (ss_slice){doc, (size_t)n});
        OPENSSL_cleanse(doc, sizeof doc);
        if (!rc)
            rc = ss_storage_flush(s->storage);
        if (rc) {
            OPENSSL_cleanse(priv, sizeof priv);
            ss__fail(err, err_cap, "cannot store the subscription keys: %s", ss_rc_str(rc));
            return rc;
        }
    }
    OPENSSL_cleanse(priv, sizeof priv);
    return SS_OK;
}

void ss__subs_keys_free(ss_subs *s) {
    EVP_PKEY_free(s->sign_key);
    s->sign_key = NULL;
    OPENSSL_cleanse(s->hmac_key, sizeof s->hmac_key);
}

json_t *ss__subs_jwks(const ss_subs *s) {
    return json_pack("{s:[{s:s,s:s,s:s,s:s,s:s,s:s}]}", "keys", "kty", "OKP", "crv", "Ed25519", "x", s->jwk_x,
                     "kid", s->kid, "use", "sig", "alg", "EdDSA");
}

ss_rc ss__subs_sign(const ss_subs *s, int64_t now_ms, const char *body, size_t len, char *out, size_t cap) {
    char t[24];
    int tn = snprintf(t, sizeof t, "%lld", (long long)(now_ms / 1000));
    ss_buf msg;
    ss_buf_init(&msg, len + 32);
    ss_buf_printf(&msg, "%s.", t);
    ss_buf_append(&msg, body, len);
    unsigned char sig[64];
    size_t sig_len = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = !msg.err && ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, s->sign_key) == 1 &&
              EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)msg.p, msg.len) == 1;
    EVP_MD_CTX_free(ctx);
    ss_buf_release(&msg);
    if (!ok)
        return SS_IOERR;
    char enc[96];
    b64url(sig, sig_len, enc, sizeof enc);
    int n = snprintf(out, cap, "t=%.*s,kid=%s,ed25519=%s", tn, t, s->kid, enc);
    return n > 0 && (size_t)n < cap ? SS_OK : SS_TOOBIG;
}

/* ---- tokens ------------------------------------------------------------------------------ */

/* out: base64url HMAC-SHA256(key, "<id>\n<claims>"), or "" (never a valid mac). No allocation. */
static void token_mac(const ss_subs *s, const char *id, const char *claims, size_t claims_len, char out[48]) {
    unsigned char msg[SS_SUBS_MAX_ID_BYTES + 1 + MAX_TOKEN_CLAIMS], mac[32];
    size_t id_len = strlen(id);
    unsigned int mac_len = sizeof mac;
    out[0] = '\0';
    if (id_len > SS_SUBS_MAX_ID_BYTES || claims_len > MAX_TOKEN_CLAIMS)
        return;
    memcpy(msg, id, id_len);
    msg[id_len] = '\n';
    memcpy(msg + id_len + 1, claims, claims_len);
    if (HMAC(EVP_sha256(), s->hmac_key, sizeof s->hmac_key, msg, id_len + 1 + claims_len, mac, &mac_len))
        b64url(mac, mac_len, out, 48);
}

char *ss__subs_token_mint(const ss_subs *s, const char *id, uint64_t generation, int64_t now_ms) {
    char nonce[17], claims[MAX_TOKEN_CLAIMS], mac[48];
    ss__subs_random_hex(nonce, 16);
    int n = snprintf(claims, sizeof claims, "%llu.%lld.%s", (unsigned long long)generation,
                     (long long)(now_ms / 1000 + SS_SUBS_TOKEN_TTL_S), nonce);
    token_mac(s, id, claims, (size_t)n, mac);
    if (!mac[0])
        return NULL;
    ss_buf t;
    ss_buf_init(&t, 160);
    ss_buf_printf(&t, "%s.%s", claims, mac);
    size_t len;
    return t.err ? (ss_buf_release(&t), NULL) : ss_buf_detach(&t, &len);
}

subs_token_check ss__subs_token_check(const ss_subs *s, const char *id, const char *token, int64_t now_ms,
                                      uint64_t *out_generation) {
    const char *dot = strrchr(token, '.');
    if (!dot || dot == token || strlen(dot + 1) >= 48)
        return SUBS_TOKEN_INVALID;
    char mac[48];
    token_mac(s, id, token, (size_t)(dot - token), mac);
    size_t got = strlen(dot + 1);
    if (!mac[0] || got != strlen(mac) || CRYPTO_memcmp(mac, dot + 1, got) != 0)
        return SUBS_TOKEN_INVALID;
    unsigned long long generation;
    long long exp_s;
    if (sscanf(token, "%llu.%lld.", &generation, &exp_s) != 2)
        return SUBS_TOKEN_INVALID;
    if (exp_s * 1000 <= now_ms)
        return SUBS_TOKEN_EXPIRED;
    *out_generation = generation;
    return SUBS_TOKEN_OK;
}
