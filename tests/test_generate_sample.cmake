# test_generate_sample: runs samples/generate/generate.c greedily on stories260K from
# "Once upon a time" and checks that what it streams is the golden text of
# shared/models/lm/stories260K.prompt.golden.json (read here, not copied), and that it
# reports tokens per second.
#   cmake -DSAMPLE=... -DMODEL=... -DGOLDEN=... -P test_generate_sample.cmake
file(READ ${GOLDEN} golden)
string(JSON prompt GET "${golden}" prompt)
string(JSON text GET "${golden}" text)
string(JSON n_ids LENGTH "${golden}" greedy_ids)
execute_process(COMMAND ${SAMPLE} ${MODEL} "${prompt}" -n ${n_ids}
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
message(STATUS "stdout:\n${out}\nstderr:\n${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the sample exited with ${rc}")
endif()
string(FIND "${out}" "${text}" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "the streamed text does not start with the golden text:\n${text}")
endif()
if(NOT err MATCHES "generated: ${n_ids} tokens, [0-9.]+ tokens/s")
  message(FATAL_ERROR "no 'generated: ${n_ids} tokens, ... tokens/s' line on stderr")
endif()
