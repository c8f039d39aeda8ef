// plugin_registry.h — backend plugins found at run time (dlopen), per runtime.
//
// Discovery order: the folders of EMBER_PLUGIN_PATH (colon-separated), then the
// `ember/plugins` folder beside libember.so, then ember_runtime_load_plugin(path). A file
// is a candidate when named libember-<name>.so. A plugin that fails (dlopen error such as
// a missing libcudart, no ember_plugin_init symbol, ABI mismatch, init error, no device)
// stays in the list with its reason and is never called again.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/ember_plugin.h"
#include "core/status.h"

namespace ember {

class Runtime;

struct Plugin {
    std::string path;
    std::string name;      // from the table, or from the file name before loading
    std::string version;
    bool loaded = false;
    std::string reason;    // why it was refused, when !loaded
    std::vector<std::string> devices;
    ember_plugin_api api{};  // valid when loaded
    void *handle = nullptr;  // dlopen handle
    ember_host_api host{};
    Runtime *runtime = nullptr;
};

class PluginRegistry {
public:
    explicit PluginRegistry(Runtime *runtime) : runtime_(runtime) {}
    ~PluginRegistry();

    // Scans EMBER_PLUGIN_PATH and the folder beside libember.so.
    void discover();
    // Loads one plugin file; the record is kept (with its reason) even when it fails.
    Status load(const std::string &path, const Plugin **out);

    size_t size() const;
    // The message the plugin set with set_error() on this thread ("" if none), cleared.
    static std::string take_error();

    // A status a plugin returned, read as an int: a plugin may return any number, and
    // reading one outside the enum's range as ember_status is undefined behaviour.
    // status_text gives "EMBER_ERR_BACKEND" for a known code, "status 9999" otherwise.
    static std::string status_text(int32_t raw);
    const Plugin *at(size_t i) const;
    // The loaded plugin called `name`, or nullptr.
    const Plugin *find_loaded(const std::string &name) const;
    // Loaded plugins, best first (cuda, then onednn, then others in load order).
    std::vector<const Plugin *> loaded_by_priority() const;

private:
    void scan_folder(const std::string &dir);
    Plugin *load_locked(const std::string &path);

    Runtime *runtime_;
    mutable std::mutex mu_;
    std::vector<std::unique_ptr<Plugin>> plugins_;
};

}  // namespace ember
