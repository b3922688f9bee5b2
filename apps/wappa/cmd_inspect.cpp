// wappa inspect MESSAGE_ID: one outbound message's state and history.
#include <rapidjson/document.h>

#include <iostream>

#include "common.hpp"
#include "one_shot.hpp"
#include "wappa/core/exit_codes.hpp"
#include "wappa/core/time.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/redis/client.hpp"

namespace wappa::app {
namespace {

struct InspectOptions {
    std::string message_id;
    bool json = false;
};

// Times are stored as Unix milliseconds; people read them as UTC.
std::string time_of(const rapidjson::Value& v) {
    if (!v.IsInt64()) return {};
    return format_utc(std::chrono::sys_seconds(std::chrono::seconds(v.GetInt64() / 1000)));
}

std::string text_of(const rapidjson::Value& v) {
    if (v.IsString()) return v.GetString();
    if (v.IsInt64()) return std::to_string(v.GetInt64());
    if (v.IsDouble()) return std::to_string(v.GetDouble());
    return {};
}

int run_inspect(const GlobalOptions& global, const InspectOptions& o) {
    auto config = load_config_or_report(global);
    if (!config) return exit_code::config;
    auto state = with_redis<std::optional<std::string>>(*config, [&](redis::Client& client) {
        return [](redis::Client& c, std::string prefix, std::string id) -> Task<Result<std::optional<std::string>>> {
            queue::OutboundQueue outbound(c, {prefix});
            co_return co_await outbound.inspect(id);
        }(client, config->redis.key_prefix, o.message_id);
    });
    if (!state) {
        std::cerr << "wappa inspect: " << state.error().message << "\n";
        return exit_code::unavailable;
    }
    if (!state.value()) {
        std::cerr << "wappa inspect: no message with id " << o.message_id << "\n";
        return exit_code::failure;
    }
    if (o.json) {
        std::cout << *state.value() << "\n";
        return exit_code::ok;
    }
    rapidjson::Document doc;
    doc.Parse(state.value()->c_str());
    for (const char* key : {"id", "tenant", "type", "to", "status", "attempts", "wamid", "last_error_code", "last_error"}) {
        if (doc.HasMember(key)) std::cout << key << ": " << text_of(doc[key]) << "\n";
    }
    for (const char* key : {"created_at", "sent_at", "updated_at"}) {
        if (doc.HasMember(key)) std::cout << key << ": " << time_of(doc[key]) << "\n";
    }
    std::cout << "history:\n";
    for (const auto& h : doc["history"].GetArray()) {
        std::cout << "  " << (h.HasMember("at") ? time_of(h["at"]) : std::string()) << " "
                  << (h.HasMember("event") ? text_of(h["event"]) : std::string());
        for (const auto& m : h.GetObject()) {
            const std::string_view name = m.name.GetString();
            if (name != "at" && name != "event") std::cout << " " << name << "=" << text_of(m.value);
        }
        std::cout << "\n";
    }
    return exit_code::ok;
}

}  // namespace

Command setup_inspect(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<InspectOptions>();
    auto* cmd = app.add_subcommand("inspect", "Show one outbound message's state and history");
    cmd->add_option("message_id", o->message_id, "The message id")->required();
    cmd->add_flag("--json", o->json, "JSON output");
    return {cmd, [&global, o] { return run_inspect(global, *o); }};
}

}  // namespace wappa::app
