-- 0003: the searches no longer evaluate filter clauses in PL/pgSQL. filter_sql.c now
-- compiles libs/mlflow's filter tree into one parameterised query per search (as the
-- tracker does), so the clause matchers of 0002 have no caller.
DROP FUNCTION mr_text_match(text, text, text);
DROP FUNCTION mr_num_match(bigint, text, text);
