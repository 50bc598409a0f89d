/* Private to libs/stats: the numerical pieces the test files share (never included from
 * outside the library). */
#ifndef STATS_STATTEST_INT_H
#define STATS_STATTEST_INT_H

/* log(1 + t) − t for t > −1, without the cancellation of the two terms for small |t|
 * (to ~2 ulp). */
double stats_log1pmx(double t);

/* Stirling's correction s(a) = log Γ(a) − ((a − ½) log a − a + ½ log 2π) for a >= 10, to
 * ~1 ulp; it is also log k! − ((k + ½) log k − k + ½ log 2π) at a = k. */
double stats_stirling_tail(double a);
#endif
