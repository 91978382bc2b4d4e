/* Subcommands of the sti program; each lives in tools/cmd_NAME.c. */
#ifndef STI_TOOLS_CMD_H
#define STI_TOOLS_CMD_H

int cmd_inspect(int argc, char **argv);
int cmd_lint(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_acme(int argc, char **argv);
int cmd_lab(int argc, char **argv);

#endif
