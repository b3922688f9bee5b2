// wappa inspect MESSAGE_ID: one outbound message's state and history.
#include <rapidjson/document.h>

#include <iostream>

#include "common.hpp"
#include "one_shot.hpp"
#include "wappa/core/exit_codes.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/service/health.hpp"
#include "wappa/service/outbound_admin.hpp"
#include "wappa/service/outbound_jobs.hpp"

namespace wappa::app {
namespace {

struct InspectOptions {
    std::string message_id;
    std::string tenant;
    bool json = false;
};

std::string text_of(const rapidjson::Value& v) {
    if (v.IsString()) return v.GetString();
    if (v.IsInt64()) return std::to_string(v.GetInt64());
    if (v.IsDouble()) return std::to_string(v.GetDouble());
    if (v.IsBool()) return v.GetBool() ? "true" : "false";
    return {};
}

void print_message(const queue::MessageState& m) {
    const auto line = [](const char* name, const std::string& value) {
        if (!value.empty()) std::cout << name << ": " << value << "\n";
    };
    const auto time = [](const char* name, std::int64_t ms) {
        if (ms > 0) std::cout << name << ": " << service::utc_of_ms(ms) << "\n";
    };
    line("id", m.message_id);
    line("tenant", m.tenant);
    line("type", m.type);
    line("phone_number_id", m.sender);
    line("to", m.to);
    line("status", m.status + (m.unknown_outcome && m.status != "sent" ? " (send outcome unknown)" : ""));
    line("attempts", std::to_string(m.attempts));
    if (m.deferrals > 0) line("deferrals", std::to_string(m.deferrals));
    line("wamid", m.wamid);
    line("last_error_code", m.last_error_code);
    line("last_error", m.last_error);
    time("created_at", m.created_at);
    if (m.not_before > m.created_at) time("not_before", m.not_before);
    time("sent_at", m.sent_at);
    time("delivered_at", m.delivered_at);
    time("read_at", m.read_at);
    time("updated_at", m.updated_at);
    time("lease_until", m.lease_until);
    time("waiting_for_status_until", m.unknown_until);
    std::cout << "history:\n";
    for (const auto& event : m.history) {
        rapidjson::Document doc;
        doc.Parse(event.c_str(), event.size());
        if (doc.HasParseError() || !doc.IsObject()) continue;
        std::cout << "  " << (doc.HasMember("at") && doc["at"].IsInt64() ? service::utc_of_ms(doc["at"].GetInt64()) : std::string())
                  << " " << (doc.HasMember("event") ? text_of(doc["event"]) : std::string());
        for (const auto& member : doc.GetObject()) {
            const std::string_view name = member.name.GetString();
            if (name != "at" && name != "event") std::cout << " " << name << "=" << text_of(member.value);
        }
        std::cout << "\n";
    }
}

int run_inspect(const GlobalOptions& global, const InspectOptions& o) {
    auto config = load_config_or_report(global);
    if (!config) return exit_code::config;
    if (!o.tenant.empty() && config->find_tenant(o.tenant) == nullptr) {
        std::cerr << "wappa inspect: --tenant: '" << o.tenant << "' is not a configured tenant\n";
        return exit_code::usage;
    }
    auto found = with_redis<service::Lookup>(*config, [&](redis::Client& client) -> Task<Result<service::Lookup>> {
        queue::OutboundQueue outbound(client, service::outbound_settings(*config));
        co_return co_await service::find_message(outbound, *config, o.tenant, o.message_id);
    });
    if (!found) {
        std::cerr << "wappa inspect: " << found.error().message << "\n";
        return exit_code::unavailable;
    }
    if (!found->holders.empty()) {
        std::cerr << "wappa inspect: message id " << o.message_id << " exists in several tenants (";
        for (std::size_t i = 0; i < found->holders.size(); ++i) std::cerr << (i ? ", " : "") << found->holders[i];
        std::cerr << "): say which with --tenant\n";
        return exit_code::usage;
    }
    if (!found->message) {
        std::cerr << "wappa inspect: no message with id " << o.message_id
                  << (o.tenant.empty() ? std::string() : " in tenant " + o.tenant) << "\n";
        return exit_code::failure;
    }
    if (o.json) std::cout << service::message_json(*found->message) << "\n";
    else print_message(*found->message);
    return exit_code::ok;
}

}  // namespace

Command setup_inspect(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<InspectOptions>();
    auto* cmd = app.add_subcommand("inspect", "Show one outbound message's state and history");
    cmd->add_option("message_id", o->message_id, "The message id")->required();
    cmd->add_option("--tenant", o->tenant, "The tenant whose message it is (needed when several hold the id)");
    cmd->add_flag("--json", o->json, "JSON output");
    return {cmd, [&global, o] { return run_inspect(global, *o); }};
}

}  // namespace wappa::app
