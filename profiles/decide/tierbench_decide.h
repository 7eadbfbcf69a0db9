/* tierbench decide, the stable C ABI: JSON in, JSON out.
 *
 * The request is a "tierbench.decide.request" document (version 1; schema/ in the package) and
 * the response a "tierbench.decide.response" document. Strings are UTF-8 and NUL-terminated; the
 * response is allocated by the library and freed by the caller with tb_decide_free().
 *
 *   char* out = NULL;
 *   int rc = tb_decide(request, NULL, &out);   // 0: decided; 2: bad input; out holds the why
 *   ... use out ...
 *   tb_decide_free(out);
 *
 * Thread-safe (no global state). Never throws across the boundary. */
#ifndef TIERBENCH_DECIDE_H
#define TIERBENCH_DECIDE_H

#ifdef __cplusplus
extern "C" {
#endif

#define TB_DECIDE_ABI_VERSION 1

/* The ABI version the library implements (TB_DECIDE_ABI_VERSION of its build). */
int tb_decide_abi_version(void);

/* Decides where and with which variant to run the request.
 *   request_json: the request (at most 4 MiB, nesting at most 32 levels).
 *   profile_json: NULL, or the device's profile (local or shareable), replacing the request's
 *                 "profile".
 *   response_json: receives the response: the decision (return 0) or
 *                  {"schema":"tierbench.decide.error","version":1,"error":"..."} naming the bad
 *                  field (return 2). Set to NULL only when memory ran out (return 3).
 * Returns 0 ok, 2 bad input, 3 out of memory or an internal error. */
int tb_decide(const char* request_json, const char* profile_json, char** response_json);

/* Frees a string returned by tb_decide(); NULL is allowed. */
void tb_decide_free(char* s);

#ifdef __cplusplus
}
#endif

#endif /* TIERBENCH_DECIDE_H */
