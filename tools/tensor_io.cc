#include "tools/tensor_io.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tools {

bool read_file(const std::string &path, std::string *out) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    std::ostringstream ss;
    ss << f.rdbuf();
    *out = ss.str();
    return true;
}

bool file_exists(const std::string &path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_dir(const std::string &path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> list_dir(const std::string &path) {
    std::vector<std::string> names;
    DIR *d = opendir(path.c_str());
    if (!d) return names;
    while (struct dirent *e = readdir(d)) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        names.push_back(e->d_name);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

ember_dtype dtype_from_numpy_name(const std::string &n) {
    static const struct { const char *name; ember_dtype t; } rows[] = {
        {"float32", EMBER_DTYPE_FLOAT32}, {"float16", EMBER_DTYPE_FLOAT16},
        {"bfloat16", EMBER_DTYPE_BFLOAT16}, {"float64", EMBER_DTYPE_FLOAT64},
        {"int8", EMBER_DTYPE_INT8}, {"uint8", EMBER_DTYPE_UINT8}, {"int16", EMBER_DTYPE_INT16},
        {"uint16", EMBER_DTYPE_UINT16}, {"int32", EMBER_DTYPE_INT32},
        {"uint32", EMBER_DTYPE_UINT32}, {"int64", EMBER_DTYPE_INT64},
        {"uint64", EMBER_DTYPE_UINT64}, {"bool", EMBER_DTYPE_BOOL},
    };
    for (const auto &r : rows)
        if (n == r.name) return r.t;
    return EMBER_DTYPE_UNDEFINED;
}

namespace {

// Parses "2, 3, 4" (empty items skipped, so "4," is one dim) into dims: plain decimal
// integers, non-negative, at most 18 digits; anything else (signs, text, huge numbers)
// is refused, never thrown about.
bool parse_dims(const std::string &body, std::vector<int64_t> *dims) {
    dims->clear();
    std::stringstream ss(body);
    std::string item;
    while (std::getline(ss, item, ',')) {
        size_t a = item.find_first_not_of(" \t\r\n");
        if (a == std::string::npos) continue;
        size_t b = item.find_last_not_of(" \t\r\n");
        std::string t = item.substr(a, b - a + 1);
        if (t.size() > 1 && t.back() == 'L') t.pop_back();  // Python 2 longs: "3L"
        if (t.empty() || t.size() > 18 || t.find_first_not_of("0123456789") != std::string::npos)
            return false;
        dims->push_back(std::strtoll(t.c_str(), nullptr, 10));
    }
    return true;
}

// Bytes of a tensor of `dims` and element size `esize`; false if that overflows.
bool tensor_bytes(const std::vector<int64_t> &dims, size_t esize, size_t *out) {
    size_t n = esize;
    for (int64_t d : dims)
        if (__builtin_mul_overflow(n, static_cast<size_t>(d), &n)) return false;
    *out = n;
    return true;
}

// Minimal JSON reading for sidecars: finds "key": and returns what follows.
bool json_find(const std::string &js, const char *key, size_t *pos) {
    std::string k = std::string("\"") + key + "\"";
    size_t p = js.find(k);
    if (p == std::string::npos) return false;
    p = js.find(':', p + k.size());
    if (p == std::string::npos) return false;
    *pos = p + 1;
    return true;
}

bool json_string(const std::string &js, const char *key, std::string *out) {
    size_t p;
    if (!json_find(js, key, &p)) return false;
    p = js.find('"', p);
    if (p == std::string::npos) return false;
    std::string r;
    for (size_t i = p + 1; i < js.size(); i++) {
        if (js[i] == '\\' && i + 1 < js.size()) {
            r += js[++i];
        } else if (js[i] == '"') {
            *out = r;
            return true;
        } else {
            r += js[i];
        }
    }
    return false;
}

bool json_int_list(const std::string &js, const char *key, std::vector<int64_t> *out) {
    size_t p;
    if (!json_find(js, key, &p)) return false;
    p = js.find('[', p);
    size_t e = js.find(']', p);
    if (p == std::string::npos || e == std::string::npos) return false;
    return parse_dims(js.substr(p + 1, e - p - 1), out);
}

const char *npy_descr(ember_dtype t) {
    switch (t) {
        case EMBER_DTYPE_FLOAT32: return "<f4";
        case EMBER_DTYPE_FLOAT16: return "<f2";
        case EMBER_DTYPE_FLOAT64: return "<f8";
        case EMBER_DTYPE_INT8: return "|i1";
        case EMBER_DTYPE_UINT8: return "|u1";
        case EMBER_DTYPE_INT16: return "<i2";
        case EMBER_DTYPE_UINT16: return "<u2";
        case EMBER_DTYPE_INT32: return "<i4";
        case EMBER_DTYPE_UINT32: return "<u4";
        case EMBER_DTYPE_INT64: return "<i8";
        case EMBER_DTYPE_UINT64: return "<u8";
        case EMBER_DTYPE_BOOL: return "|b1";
        case EMBER_DTYPE_BFLOAT16: return "<V2";  // numpy has no bfloat16
        default: return nullptr;
    }
}

ember_dtype dtype_from_descr(const std::string &d) {
    static const ember_dtype all[] = {
        EMBER_DTYPE_FLOAT32, EMBER_DTYPE_FLOAT16, EMBER_DTYPE_FLOAT64, EMBER_DTYPE_INT8,
        EMBER_DTYPE_UINT8,   EMBER_DTYPE_INT16,   EMBER_DTYPE_UINT16,  EMBER_DTYPE_INT32,
        EMBER_DTYPE_UINT32,  EMBER_DTYPE_INT64,   EMBER_DTYPE_UINT64,  EMBER_DTYPE_BOOL};
    for (ember_dtype t : all) {
        const char *n = npy_descr(t);
        if (d == n) return t;
        if (d.size() == 3 && d[0] == '=' && d.substr(1) == std::string(n).substr(1)) return t;
    }
    return EMBER_DTYPE_UNDEFINED;
}

bool read_npy(const std::string &bytes, HostTensor *out, std::string *err) {
    if (bytes.size() < 10 || memcmp(bytes.data(), "\x93NUMPY", 6) != 0) {
        *err = "not a .npy file (bad magic)";
        return false;
    }
    int major = static_cast<uint8_t>(bytes[6]);
    size_t hlen, hstart;
    if (major == 1) {
        hlen = static_cast<uint8_t>(bytes[8]) | static_cast<uint8_t>(bytes[9]) << 8;
        hstart = 10;
    } else {
        if (bytes.size() < 12) { *err = "truncated .npy header"; return false; }
        hlen = 0;
        for (int i = 0; i < 4; i++) hlen |= static_cast<size_t>(static_cast<uint8_t>(bytes[8 + i])) << (8 * i);
        hstart = 12;
    }
    if (hlen > bytes.size() - hstart) { *err = "truncated .npy header"; return false; }
    std::string h = bytes.substr(hstart, hlen);
    auto field = [&](const char *key) -> std::string {
        size_t p = h.find(std::string("'") + key + "'");
        if (p == std::string::npos) return "";
        p = h.find(':', p);
        return p == std::string::npos ? "" : h.substr(p + 1);
    };
    std::string descr = field("descr");
    size_t q1 = descr.find('\''), q2 = descr.find('\'', q1 + 1);
    if (q1 == std::string::npos || q2 == std::string::npos) { *err = "npy header has no descr"; return false; }
    out->dtype = dtype_from_descr(descr.substr(q1 + 1, q2 - q1 - 1));
    if (out->dtype == EMBER_DTYPE_UNDEFINED) {
        *err = "unsupported npy dtype " + descr.substr(q1 + 1, q2 - q1 - 1);
        return false;
    }
    std::string fo = field("fortran_order");
    if (fo.find("True") != std::string::npos && fo.find("True") < fo.find(',')) {
        *err = "fortran_order arrays are not supported";
        return false;
    }
    std::string sh = field("shape");
    size_t a = sh.find('('), b = sh.find(')');
    if (a == std::string::npos || b == std::string::npos) { *err = "npy header has no shape"; return false; }
    if (b < a || !parse_dims(sh.substr(a + 1, b - a - 1), &out->dims)) {
        *err = "npy shape is not a tuple of non-negative integers";
        return false;
    }
    size_t need;
    if (!tensor_bytes(out->dims, ember_dtype_size(out->dtype), &need)) {
        *err = "npy shape " + sh.substr(a, b - a + 1) + " has too many elements";
        return false;
    }
    size_t data_start = hstart + hlen;
    if (bytes.size() - data_start < need) { *err = "npy data is shorter than its shape says"; return false; }
    out->data.assign(bytes.begin() + data_start, bytes.begin() + data_start + need);
    return true;
}

}  // namespace

bool parse_npy_bytes(const void *data, size_t size, HostTensor *out, std::string *err) {
    std::string bytes(static_cast<const char *>(data), size);
    return read_npy(bytes, out, err);
}

bool parse_raw_tensor_bytes(const std::string &js, const void *data, size_t size,
                            HostTensor *out, std::string *err) {
    std::string dtype;
    if (!json_string(js, "dtype", &dtype) || !json_int_list(js, "shape", &out->dims)) {
        *err = "the sidecar needs \"dtype\" and \"shape\"";
        return false;
    }
    json_string(js, "name", &out->name);
    out->dtype = dtype_from_numpy_name(dtype);
    if (out->dtype == EMBER_DTYPE_UNDEFINED) {
        *err = "unknown dtype " + dtype;
        return false;
    }
    size_t need;
    if (!tensor_bytes(out->dims, ember_dtype_size(out->dtype), &need)) {
        *err = "the sidecar's shape has too many elements";
        return false;
    }
    if (size != need) {
        *err = "has " + std::to_string(size) + " bytes, shape and dtype need " +
               std::to_string(need);
        return false;
    }
    const uint8_t *p = static_cast<const uint8_t *>(data);
    out->data.assign(p, p + size);
    return true;
}

bool read_tensor_file(const std::string &path, HostTensor *out, std::string *err) {
    std::string bytes;
    if (!read_file(path, &bytes)) {
        *err = "cannot read " + path;
        return false;
    }
    if (path.size() > 4 && path.compare(path.size() - 4, 4, ".npy") == 0) {
        if (!read_npy(bytes, out, err)) { *err = path + ": " + *err; return false; }
        return true;
    }
    std::string side = path;
    size_t dot = side.rfind('.');
    side = (dot == std::string::npos ? side : side.substr(0, dot)) + ".json";
    std::string js;
    if (!read_file(side, &js)) {
        *err = path + ": raw tensors need a .json sidecar (" + side + ")";
        return false;
    }
    if (!parse_raw_tensor_bytes(js, bytes.data(), bytes.size(), out, err)) {
        *err = (err->compare(0, 12, "the sidecar ") == 0 || err->compare(0, 8, "unknown ") == 0
                    ? side : path) + ": " + *err;
        return false;
    }
    return true;
}

bool write_npy(const std::string &path, ember_dtype dtype, const int64_t *dims, size_t rank,
               const void *data, size_t bytes, std::string *err) {
    const char *descr = npy_descr(dtype);
    if (!descr) { *err = "cannot write dtype to npy"; return false; }
    std::string shape = "(";
    for (size_t i = 0; i < rank; i++) shape += std::to_string(dims[i]) + (rank == 1 ? "," : (i + 1 < rank ? ", " : ""));
    shape += ")";
    std::string h = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    size_t total = 10 + h.size() + 1;
    size_t pad = (64 - total % 64) % 64;
    h += std::string(pad, ' ') + "\n";
    FILE *f = fopen(path.c_str(), "wb");
    if (!f) { *err = "cannot write " + path; return false; }
    unsigned char hdr[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                             static_cast<unsigned char>(h.size() & 0xff),
                             static_cast<unsigned char>(h.size() >> 8)};
    bool ok = fwrite(hdr, 1, 10, f) == 10 && fwrite(h.data(), 1, h.size(), f) == h.size() &&
              (bytes == 0 || fwrite(data, 1, bytes, f) == bytes);
    ok &= fclose(f) == 0;
    if (!ok) *err = "cannot write " + path;
    return ok;
}

}  // namespace tools
