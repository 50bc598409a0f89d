/* SQL expressions that render the tracker's entities as MLflow's JSON, shared by the
 * fixed queries (q_*.c) and the search compiler (filter_sql.c) so that experiments/get
 * and experiments/search, runs/get and runs/search, answer the very same shape. Pure
 * text, no includes: filter_sql.c stays free of I/O headers. */
#ifndef ET_SQL_JSON_H
#define ET_SQL_JSON_H

/* The Experiment of experiments row alias e, as a json expression (unset omitted). */
#define ET_SQL_EXPERIMENT                                                                                              \
	"json_strip_nulls(json_build_object('experiment_id', e.experiment_id::text, 'name', e.name, "                  \
	"'artifact_location', e.artifact_location, 'lifecycle_stage', e.lifecycle_stage, 'last_update_time', "         \
	"e.last_update_time, 'creation_time', e.creation_time, 'tags', (SELECT json_agg(json_build_object("            \
	"'key', t.key, 'value', t.value) ORDER BY t.key) FROM experiment_tags t "                                      \
	"WHERE t.experiment_id = e.experiment_id)))"

/* The RunInfo of runs row alias r as a JSON expression (unset fields omitted). */
#define ET_SQL_RUN_INFO                                                                                                \
	"json_strip_nulls(json_build_object('run_uuid', r.run_id, 'run_id', r.run_id, 'run_name', r.run_name, "        \
	"'experiment_id', r.experiment_id::text, 'user_id', r.user_id, 'status', r.status, 'start_time', "             \
	"r.start_time, 'end_time', r.end_time, 'artifact_uri', r.artifact_uri, 'lifecycle_stage', "                    \
	"r.lifecycle_stage))"
#endif
