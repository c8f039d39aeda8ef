// commands.h — the subcommands of the `ember` tool.
#pragma once

int cmd_convert(int argc, char **argv);
// llama2.c / GGUF language models; -1 when the input is not one (cmd_convert_lm.cc).
int cmd_convert_lm(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_bench_lm(int argc, char **argv);
int cmd_make_random_llama(int argc, char **argv);
// Q8_0 / Q4_0 weights for a language model (cmd_quantize.cc).
int cmd_quantize(int argc, char **argv);
int cmd_bench_mem(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_conformance(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_plugin_check(int argc, char **argv);
