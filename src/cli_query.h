/*
 * cli_query.h: the `sluice query` subcommand (src/cli_query.c), used by main.c.
 */
#ifndef SL_CLI_QUERY_H
#define SL_CLI_QUERY_H

/* Runs `sluice query` with the arguments after "query". Returns the exit status: 0 the query
 * ran, 1 it failed or the server could not be reached (the reason is on stderr), 2 usage.
 * Thread: main. */
int cli_query(int argc, char **argv);

/* Prints the help of `sluice query` to f (a FILE *). */
void cli_query_usage(void *f);

#endif
