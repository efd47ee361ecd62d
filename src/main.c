/*
 * main.c: the `sluice` command (placeholder until the front door lands in this series).
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "version") == 0) {
        printf("sluice %s\n", SLUICE_VERSION);
        return 0;
    }
    fprintf(stderr, "usage: sluice serve | version\n");
    return 2;
}
