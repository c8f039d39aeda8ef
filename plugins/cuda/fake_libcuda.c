/* fake_libcuda.c — a stand-in libcuda.so.1 for test_cuda_fake_driver: it claims one device,
 * so the loader (cuda_loader.c) passes its driver check and loads the real backend, whose
 * CUDA runtime then finds this is no driver. Checks, on machines without a GPU, that the
 * backend library and its CUDA libraries load and that the backend refuses cleanly. */
#define FAKE_EXPORT __attribute__((visibility("default")))
FAKE_EXPORT int cuInit(unsigned int flags) { (void)flags; return 0; }
FAKE_EXPORT int cuDeviceGetCount(int *count) { *count = 1; return 0; }
FAKE_EXPORT int cuGetErrorName(int error, const char **name) { (void)error; *name = "CUDA_ERROR_FAKE"; return 0; }
