// replay_main.cc — main() for the normal (non-libFuzzer) build of a fuzz target: feeds
// every file named on the command line, or found in a directory named there, to the
// target's LLVMFuzzerTestOneInput once, in sorted order. The regression tests use it
// to replay tests/fuzz_regressions/<target>/ without clang or libFuzzer; a crash or a
// sanitizer report fails the test just as it would under the fuzzer.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace {

bool is_dir(const std::string &p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void collect(const std::string &path, std::vector<std::string> *files) {
    if (!is_dir(path)) {
        files->push_back(path);
        return;
    }
    DIR *d = opendir(path.c_str());
    if (!d) return;
    std::vector<std::string> names;
    while (struct dirent *e = readdir(d)) {
        std::string n = e->d_name;
        if (n == "." || n == ".." || n[0] == '.') continue;  // .gitkeep and the like
        names.push_back(n);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto &n : names) collect(path + "/" + n, files);
}

}  // namespace

int main(int argc, char **argv) {
    std::vector<std::string> files;
    for (int i = 1; i < argc; i++) collect(argv[i], &files);
    for (const auto &f : files) {
        std::ifstream in(f, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "replay: cannot read %s\n", f.c_str());
            return 1;
        }
        std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
        std::fprintf(stderr, "replay: %s (%zu bytes)\n", f.c_str(), bytes.size());
        // A copy of exactly the file's size, so a sanitizer sees reads past the end.
        uint8_t *copy = new uint8_t[bytes.empty() ? 1 : bytes.size()];
        std::copy(bytes.begin(), bytes.end(), copy);
        LLVMFuzzerTestOneInput(copy, bytes.size());
        delete[] copy;
    }
    std::fprintf(stderr, "replay: %zu input(s), no crash\n", files.size());
    return 0;
}
