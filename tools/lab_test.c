/* sti lab test: placeholder. */
#include "cli.h"
#include "lab.h"

int lab_test(struct lab *lab)
{
    (void)lab;
    return CLI_EXIT_FAIL;
}
