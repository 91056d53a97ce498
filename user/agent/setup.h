/* What the pipeline classifies with, built from the settings: the secret
 * catalogue (built-in rules, secrets.patterns, secrets.pattern_files) and
 * the network classes (cluster CIDRs, API server endpoints). Errors are
 * logged with the setting that caused them. */
#ifndef REACH_AGENT_SETUP_H
#define REACH_AGENT_SETUP_H

#include "config/config.h"
#include "reach/catalog.h"
#include "reach/netclass.h"

/* 0; -EINVAL for a bad setting; -ENOMEM or another -errno otherwise. */
int setup_catalog(struct catalog **out, const struct reach_config *cfg);
int setup_netclass(struct netclass *nc, const struct reach_config *cfg);

#endif
