/* A least-privilege ReachPolicy from observed reach (user/policy/suggest.c). */
#ifndef REACH_SUGGEST_H
#define REACH_SUGGEST_H

#include <stdio.h>
#include "reach/ledger.h"

/* A least-privilege ReachPolicy YAML for identity from its observed reach:
 * names over addresses (egress with a DNS name -> host rule, else a /32 or
 * /128 cidr; ports merged per host/address and protocol), a directory glob
 * ("/dir/" "*") when 3+ secrets of one directory are read, tools as exact
 * paths, credentials by host (port dropped) + kind + path templates (no
 * fingerprints: tokens rotate); DNS edges are not rules. Every edge of the
 * identity is included, whatever its epoch. A credential whose Host was
 * not seen gets host "*" (still narrowed by kind and path); a secret or tool
 * that is not an absolute path cannot be a rule and is left out with a YAML
 * comment. Valid input for policy_load_path(), and verify_ledger() of the
 * same ledger against it gives no finding of severity >= medium (save those
 * left-out edges). 0; -EINVAL (NULL argument, identity with spaces);
 * -ENOENT (identity not in the ledger); -E2BIG (a list would exceed
 * POLICY_MAX_RULES); -EIO (write error). err says why. */
int policy_suggest(const struct ledger *l, const char *identity, FILE *out, char *err, size_t err_size);

#endif
