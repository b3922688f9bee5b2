// wappa publish CHANNEL [JSON|-]: one message on a Pub/Sub channel.
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <iostream>
#include <iterator>

#include "common.hpp"
#include "one_shot.hpp"
#include "wappa/core/exit_codes.hpp"
#include "wappa/pubsub/event_log.hpp"
#include "wappa/redis/client.hpp"

namespace wappa::app {
namespace {

struct PublishOptions {
    std::string channel;
    std::string payload = "-";
};

int run_publish(const GlobalOptions& global, const PublishOptions& options) {
    auto config = load_config_or_report(global);
    if (!config) return exit_code::config;
    std::string payload = options.payload;
    if (payload == "-") payload.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    while (!payload.empty() && (payload.back() == '\n' || payload.back() == '\r')) payload.pop_back();
    rapidjson::Document doc;
    doc.Parse(payload.data(), payload.size());
    if (doc.HasParseError()) {
        std::cerr << "wappa publish: the message is not valid JSON (byte " << doc.GetErrorOffset()
                  << "): " << rapidjson::GetParseError_En(doc.GetParseError()) << "\n";
        return exit_code::data_error;
    }

    // A notification channel of a configured tenant goes to that tenant's event log too, so that
    // live clients replaying the log see it like any other notification.
    const auto parts = pubsub::parse_channel(config->redis.key_prefix, options.channel);
    const bool logged = parts && config->find_tenant(parts->tenant) != nullptr;
    const redis::Command publish_command("PUBLISH", options.channel, payload);
    auto outcome = with_redis<std::int64_t>(*config, [&](redis::Client& client) -> Task<Result<std::int64_t>> {
        if (logged) {
            std::vector<std::pair<std::string, std::string>> one;
            one.emplace_back(options.channel, payload);
            auto receivers = co_await pubsub::publish_logged(client, config->redis.key_prefix, config->pubsub.event_log_max_len,
                                                             parts->tenant, std::move(one));
            co_return receivers;
        }
        auto reply = co_await client.exec(publish_command);
        if (!reply) co_return reply.error();
        if (reply->is_error()) co_return Error{"redis refused PUBLISH: " + reply->str};
        co_return reply->integer;
    });
    if (!outcome) {
        std::cerr << "wappa publish: " << outcome.error().message << "\n";
        return exit_code::unavailable;
    }
    std::cerr << "published to " << options.channel << " (" << outcome.value() << " subscriber(s))\n";
    return exit_code::ok;
}

}  // namespace

Command setup_publish(CLI::App& app, const GlobalOptions& global) {
    auto options = std::make_shared<PublishOptions>();
    auto* cmd = app.add_subcommand("publish", "Send one JSON message on a Redis Pub/Sub channel");
    cmd->add_option("channel", options->channel, "Channel name, e.g. wappa:notify:acme:5511999887766:custom")->required();
    cmd->add_option("message", options->payload, "The JSON message, or - to read it from standard input (default)");
    return {cmd, [&global, options] { return run_publish(global, *options); }};
}

}  // namespace wappa::app
