// commands.h — the subcommands of the `ember` tool.
#pragma once

int cmd_convert(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_conformance(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_plugin_check(int argc, char **argv);
