/* The pipeline's kernel side (pipeline_dedup_ops, pipeline_tls_ops) bound
 * to the real sensor. The pipeline itself only knows the ops, so its unit
 * tests run on fakes without root; this is the one place that binds them
 * to sensor/. */
#ifndef REACH_AGENT_SENSOR_OPS_H
#define REACH_AGENT_SENSOR_OPS_H

struct pipeline;
struct sensor;
struct tls_coverage;

/* Dedup map reads and takes through the sensor's maps. */
void pipeline_use_sensor(struct pipeline *p, struct sensor *s);
/* TLS library coverage (opens, execs, forks, exits) through t. */
void pipeline_use_tls(struct pipeline *p, struct tls_coverage *t);

#endif
