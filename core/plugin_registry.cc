#include "core/plugin_registry.h"

#include <dirent.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/runtime.h"

namespace ember {

namespace {

constexpr uint32_t kAbiMin = EMBER_PLUGIN_ABI_VERSION;
constexpr uint32_t kAbiMax = EMBER_PLUGIN_ABI_VERSION;
constexpr int32_t kMaxDevices = 1024;  // per plugin

// Plugin errors are per thread: sessions on several threads may call one plugin at once.
thread_local std::string t_plugin_error;

void host_log(void *ctx, ember_log_level level, const char *message) {
    Plugin *p = static_cast<Plugin *>(ctx);
    if (p->runtime) p->runtime->log(level, p->name.c_str(), "%s", message ? message : "");
}

void host_set_error(void *ctx, const char *message) {
    (void)ctx;
    t_plugin_error = message ? message : "";
}

bool has_plugin_name(const std::string &file) {
    return file.size() > 12 && file.compare(0, 9, "libember-") == 0 &&
           file.compare(file.size() - 3, 3, ".so") == 0;
}

std::string name_from_file(const std::string &path) {
    std::string f = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
    if (has_plugin_name(f)) return f.substr(9, f.size() - 12);
    return f;
}

// The folder holding libember.so itself.
std::string library_dir() {
    Dl_info info;
    if (dladdr(reinterpret_cast<void *>(&name_from_file), &info) == 0 || !info.dli_fname) return "";
    std::string p = info.dli_fname;
    size_t slash = p.rfind('/');
    return slash == std::string::npos ? "." : p.substr(0, slash);
}

int priority(const std::string &name) {
    if (name == "cuda") return 0;
    if (name == "onednn") return 1;
    return 2;
}

}  // namespace

std::string PluginRegistry::status_text(int32_t raw) {
    if (raw >= EMBER_OK && raw <= EMBER_ERR_BUFFER_TOO_SMALL)
        return ember_status_string(static_cast<ember_status>(raw));
    return "status " + std::to_string(raw);
}

std::string PluginRegistry::take_error() {
    std::string e;
    e.swap(t_plugin_error);
    return e;
}

PluginRegistry::~PluginRegistry() {
    for (auto &p : plugins_) {
        if (p->loaded && p->api.destroy) p->api.destroy(p->api.ctx);
        if (p->handle) dlclose(p->handle);
    }
}

void PluginRegistry::discover() {
    const char *env = getenv("EMBER_PLUGIN_PATH");
    if (env && *env) {
        std::string paths = env;
        size_t start = 0;
        while (start <= paths.size()) {
            size_t colon = paths.find(':', start);
            std::string dir = paths.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
            if (!dir.empty()) scan_folder(dir);
            if (colon == std::string::npos) break;
            start = colon + 1;
        }
    }
    std::string lib = library_dir();
    if (!lib.empty()) {
        scan_folder(lib + "/ember/plugins");
        // A statically linked tool in <prefix>/bin finds <prefix>/lib/ember/plugins.
        if (lib.size() >= 4 && lib.compare(lib.size() - 4, 4, "/bin") == 0)
            scan_folder(lib.substr(0, lib.size() - 4) + "/lib/ember/plugins");
    }
}

void PluginRegistry::scan_folder(const std::string &dir) {
    DIR *d = opendir(dir.c_str());
    if (!d) return;
    std::vector<std::string> files;
    while (struct dirent *e = readdir(d))
        if (has_plugin_name(e->d_name)) files.push_back(dir + "/" + e->d_name);
    closedir(d);
    std::sort(files.begin(), files.end());
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto &f : files) {
        std::string name = name_from_file(f);
        bool dup = false;
        for (const auto &p : plugins_) dup |= p->loaded && p->name == name;
        if (dup) continue;  // an earlier folder wins, like PATH
        load_locked(f);
    }
}

Plugin *PluginRegistry::load_locked(const std::string &path) {
    std::unique_ptr<Plugin> p(new Plugin());
    p->path = path;
    p->name = name_from_file(path);
    Plugin *raw = p.get();
    plugins_.push_back(std::move(p));
    // RTLD_LOCAL keeps each plugin's dependencies (oneDNN, CUDA) out of the global scope.
    // RTLD_NODELETE keeps the code mapped after dlclose: a plugin's libraries may leave
    // threads behind (libgomp's pool under oneDNN) whose code must not vanish under them.
    raw->handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!raw->handle) {
        const char *e = dlerror();
        raw->reason = std::string("cannot load: ") + (e ? e : "unknown dlopen error");
        return raw;
    }
    auto init = reinterpret_cast<ember_plugin_init_fn>(dlsym(raw->handle, "ember_plugin_init"));
    if (!init) {
        raw->reason = "no ember_plugin_init symbol: not an Ember plugin";
        dlclose(raw->handle);
        raw->handle = nullptr;
        return raw;
    }
    raw->host.struct_size = sizeof raw->host;
    raw->host.abi_min = kAbiMin;
    raw->host.abi_max = kAbiMax;
    raw->host.log = host_log;
    raw->host.set_error = host_set_error;
    raw->host.host_ctx = raw;
    raw->runtime = runtime_;
    t_plugin_error.clear();
    ember_plugin_api api;
    std::memset(&api, 0, sizeof api);
    int32_t st = init(&raw->host, &api);  // any number (status_text)
    auto refuse = [&](const std::string &why) {
        raw->reason = why;
        if (st == EMBER_OK && api.destroy && api.struct_size >= sizeof api) api.destroy(api.ctx);
        dlclose(raw->handle);
        raw->handle = nullptr;
        return raw;
    };
    if (st != EMBER_OK) {
        std::string why = "initialisation failed (" + status_text(st) + ")";
        std::string detail = take_error();
        if (!detail.empty()) why += ": " + detail;
        if (st == EMBER_ERR_ABI)
            why += " [host speaks plugin ABI " + std::to_string(kAbiMin) + ".." + std::to_string(kAbiMax) + "]";
        st = EMBER_ERR_BACKEND;  // nothing to destroy
        return refuse(why);
    }
    if (api.abi_version < kAbiMin || api.abi_version > kAbiMax)
        return refuse("plugin speaks ABI " + std::to_string(api.abi_version) + ", the host " +
                      std::to_string(kAbiMin) + ".." + std::to_string(kAbiMax));
    if (api.struct_size < sizeof(ember_plugin_api))
        return refuse("plugin table is " + std::to_string(api.struct_size) + " bytes, ABI " +
                      std::to_string(api.abi_version) + " needs " + std::to_string(sizeof(ember_plugin_api)));
    if (!api.name || !api.supports || !api.compile || !api.execute || !api.release ||
        !api.destroy || !api.device_count)
        return refuse("plugin table lacks a required entry (name, supports, compile, execute, "
                      "release, destroy or device_count)");
    int32_t n = api.device_count(api.ctx);
    if (n <= 0) return refuse(n == 0 ? "no device" : "no device (device_count returned " + std::to_string(n) + ")");
    // A garbage count would make the host describe 2^31 devices (minutes, gigabytes).
    if (n > kMaxDevices)
        return refuse("device_count returned " + std::to_string(n) + ", above the host's limit of " +
                      std::to_string(kMaxDevices) + " devices");
    raw->api = api;
    raw->name = api.name;
    raw->version = api.version ? api.version : "";
    for (int32_t i = 0; i < n; i++) {
        const char *dn = api.device_name ? api.device_name(api.ctx, i) : nullptr;
        raw->devices.push_back(dn ? dn : (raw->name + ":" + std::to_string(i)));
    }
    raw->loaded = true;
    return raw;
}

Status PluginRegistry::load(const std::string &path, const Plugin **out) {
    std::lock_guard<std::mutex> lock(mu_);
    Plugin *p = load_locked(path);
    if (out) *out = p;
    if (!p->loaded)
        return errorf(EMBER_ERR_BACKEND, "plugin '%s': %s", path.c_str(), p->reason.c_str());
    for (size_t i = 0; i + 1 < plugins_.size(); i++) {
        if (plugins_[i]->loaded && plugins_[i]->name == p->name && plugins_[i].get() != p) {
            // Two plugins with one name: the later load is refused, the earlier stays.
            p->loaded = false;
            p->reason = "a plugin named '" + p->name + "' is already loaded from " + plugins_[i]->path;
            p->api.destroy(p->api.ctx);
            dlclose(p->handle);
            p->handle = nullptr;
            return errorf(EMBER_ERR_BACKEND, "plugin '%s': %s", path.c_str(), p->reason.c_str());
        }
    }
    return Status::OK();
}

size_t PluginRegistry::size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return plugins_.size();
}

const Plugin *PluginRegistry::at(size_t i) const {
    std::lock_guard<std::mutex> lock(mu_);
    return i < plugins_.size() ? plugins_[i].get() : nullptr;
}

const Plugin *PluginRegistry::find_loaded(const std::string &name) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto &p : plugins_)
        if (p->loaded && p->name == name) return p.get();
    return nullptr;
}

std::vector<const Plugin *> PluginRegistry::loaded_by_priority() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<const Plugin *> r;
    for (const auto &p : plugins_)
        if (p->loaded) r.push_back(p.get());
    std::stable_sort(r.begin(), r.end(), [](const Plugin *a, const Plugin *b) {
        return priority(a->name) < priority(b->name);
    });
    return r;
}

}  // namespace ember
