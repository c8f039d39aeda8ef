#include "core/runtime.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ember {

namespace {
int resolve_threads(int32_t requested) {
    if (requested > 0) return requested;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) : 1;
}
}  // namespace

Runtime::Runtime(const ember_runtime_options &opts)
    : log_fn_(opts.log_fn),
      log_user_(opts.log_user_data),
      log_level_(opts.log_level),
      pool_(resolve_threads(opts.num_threads), opts.spin_us) {
    if (!opts.disable_plugin_discovery) plugins_.discover();
}

void Runtime::log(ember_log_level level, const char *function, const char *fmt, ...) const {
    if (static_cast<int32_t>(level) > log_level_) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (log_fn_) {
        log_fn_(log_user_, level, function, buf);
    } else {
        static const char *names[] = {"error", "warning", "info", "debug"};
        fprintf(stderr, "ember %s: %s: %s\n", names[level & 3], function, buf);
    }
}

ModelBytes::~ModelBytes() {
    if (mapping_) munmap(mapping_, size_);
    free(heap_);
}

namespace {

// The heap copy of a model (copy_on_load, copy_memory). Large ones are 2 MiB aligned and
// advised to use transparent huge pages: weights are streamed once per decoded token, and
// with 4 KiB pages the hardware prefetchers stop at every page boundary (tools/bench_lm.sh
// measured the difference). The advice may be refused; freed with free() either way.
void *alloc_model_heap(size_t size) {
    constexpr size_t kHuge = size_t(2) << 20;
    if (size >= 2 * kHuge) {
        void *p = aligned_alloc(kHuge, (size + kHuge - 1) / kHuge * kHuge);
        if (p) madvise(p, (size + kHuge - 1) / kHuge * kHuge, MADV_HUGEPAGE);
        return p;
    }
    return aligned_alloc(64, size ? (size + 63) / 64 * 64 : 64);
}

}  // namespace

Status ModelBytes::copy_memory(const void *data, size_t size, std::unique_ptr<ModelBytes> *out) {
    std::unique_ptr<ModelBytes> b(new ModelBytes());
    b->heap_ = alloc_model_heap(size);
    if (!b->heap_) return errorf(EMBER_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes for the model", size);
    if (size) memcpy(b->heap_, data, size);
    b->data_ = static_cast<const uint8_t *>(b->heap_);
    b->size_ = size;
    *out = std::move(b);
    return Status::OK();
}

Status ModelBytes::map_file(const std::string &path, bool copy, std::unique_ptr<ModelBytes> *out) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errorf(EMBER_ERR_IO, "cannot open '%s': %s", path.c_str(), strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return errorf(EMBER_ERR_IO, "cannot stat '%s': %s", path.c_str(), strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return errorf(EMBER_ERR_IO, "'%s' is not a regular file", path.c_str());
    }
    size_t size = static_cast<size_t>(st.st_size);
    std::unique_ptr<ModelBytes> b(new ModelBytes());
    if (size == 0) {
        close(fd);
        return errorf(EMBER_ERR_FORMAT, "'%s' is empty (0 bytes)", path.c_str());
    }
    if (copy) {
        b->heap_ = alloc_model_heap(size);
        if (!b->heap_) {
            close(fd);
            return errorf(EMBER_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes for '%s'", size,
                          path.c_str());
        }
        size_t got = 0;
        while (got < size) {
            ssize_t r = read(fd, static_cast<uint8_t *>(b->heap_) + got, size - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                int e = errno;
                close(fd);
                return errorf(EMBER_ERR_IO, "cannot read '%s': %s", path.c_str(),
                              r == 0 ? "file shrank while reading" : strerror(e));
            }
            got += static_cast<size_t>(r);
        }
        b->data_ = static_cast<const uint8_t *>(b->heap_);
    } else {
        void *m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            return errorf(EMBER_ERR_IO, "cannot map '%s': %s", path.c_str(), strerror(e));
        }
        b->mapping_ = m;
        b->data_ = static_cast<const uint8_t *>(m);
    }
    close(fd);
    b->size_ = size;
    *out = std::move(b);
    return Status::OK();
}

void Model::describe_io() {
    auto fill = [this](const std::vector<int32_t> &ids, std::vector<ModelIO> *dst) {
        dst->clear();
        for (int32_t id : ids) {
            const Value &v = graph.values[id];
            ModelIO io;
            io.name = v.name;
            io.dtype = v.dtype;
            if (v.has_shape) {
                io.dims = v.shape;
                io.dim_names = v.dim_names;
                io.dim_names.resize(io.dims.size());
            }
            dst->push_back(std::move(io));
        }
        for (auto &io : *dst) {
            io.dim_name_ptrs.clear();
            for (auto &n : io.dim_names) io.dim_name_ptrs.push_back(n.c_str());
        }
    };
    fill(graph.inputs, &inputs);
    fill(graph.outputs, &outputs);
}

}  // namespace ember
