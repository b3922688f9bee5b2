#include "wappa/graph/transport.hpp"

#include <rapidjson/document.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <atomic>
#include <random>
#include <set>
#include <vector>

namespace wappa::graph {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

bool is_rate_limit(std::int64_t code) { return code == 4 || code == 80007 || code == 130429 || code == 131048 || code == 131056; }
bool is_transient(std::int64_t code) { return code == 1 || code == 2 || code == 131000 || code == 131016 || code == 133004 || code == 131057; }

class Sandbox final : public Transport {
public:
    Sandbox(net::any_io_executor executor, config::Duration latency) : executor_(std::move(executor)), latency_(latency) {}

    Task<SendOutcome> send(const std::string&, const std::string&, const std::string&) override {
        if (latency_.count() > 0) {
            net::steady_timer timer(executor_, latency_);
            co_await timer.async_wait(use_tuple);
        }
        SendOutcome out;
        out.kind = SendOutcome::Kind::sent;
        out.wamid = "wamid.SANDBOX" + std::to_string(random_()) + std::to_string(++counter_);
        co_return out;
    }

private:
    net::any_io_executor executor_;
    config::Duration latency_;
    std::mt19937_64 random_{std::random_device{}()};
    std::atomic<std::uint64_t> counter_{0};
};

// Plain HTTP/1.1 with a pool of keep-alive connections; for loopback test servers only.
class LoopbackHttp final : public Transport {
public:
    LoopbackHttp(net::any_io_executor executor, std::string host, std::string port, TransportSettings settings)
        : executor_(std::move(executor)), host_(std::move(host)), port_(std::move(port)), settings_(std::move(settings)) {}

    Task<SendOutcome> send(const std::string& phone_number_id, const std::string& access_token,
                           const std::string& body) override {
        std::unique_ptr<beast::tcp_stream> stream;
        if (!idle_.empty()) {
            stream = std::move(idle_.back());
            idle_.pop_back();
        } else {
            stream = std::make_unique<beast::tcp_stream>(executor_);
            tcp::resolver resolver(executor_);
            auto [rerr, endpoints] = co_await resolver.async_resolve(host_, port_, use_tuple);
            if (rerr) co_return transport_error("cannot resolve the Graph host: " + rerr.message());
            stream->expires_after(settings_.timeout);
            auto [cerr, ep] = co_await stream->async_connect(endpoints, use_tuple);
            if (cerr) co_return transport_error("cannot connect to the Graph API: " + cerr.message());
        }
        bhttp::request<bhttp::string_body> request{bhttp::verb::post, "/" + settings_.api_version + "/" + phone_number_id + "/messages", 11};
        request.set(bhttp::field::host, host_);
        request.set(bhttp::field::authorization, "Bearer " + access_token);
        request.set(bhttp::field::content_type, "application/json");
        request.body() = body;
        request.prepare_payload();
        stream->expires_after(settings_.timeout);
        auto [werr, written] = co_await bhttp::async_write(*stream, request, use_tuple);
        // A failure before the request left is safe to retry; after, the outcome is unknown and
        // the retry may duplicate (SPEC §9): the queue's attempt limit bounds it.
        if (werr) co_return transport_error("sending to the Graph API failed: " + werr.message());
        beast::flat_buffer buffer;
        bhttp::response<bhttp::string_body> response;
        auto [rerr2, read] = co_await bhttp::async_read(*stream, buffer, response, use_tuple);
        if (rerr2) co_return transport_error("no answer from the Graph API: " + rerr2.message());
        config::Duration retry_after{0};
        if (auto it = response.find(bhttp::field::retry_after); it != response.end()) {
            retry_after = config::Duration(std::atoll(std::string(it->value()).c_str()) * 1000);
        }
        if (response.keep_alive() && idle_.size() < 64) idle_.push_back(std::move(stream));
        co_return classify(response.result_int(), response.body(), retry_after);
    }

private:
    static SendOutcome transport_error(std::string message) {
        return SendOutcome{SendOutcome::Kind::transient, {}, 0, std::move(message), config::Duration(0)};
    }

    net::any_io_executor executor_;
    std::string host_, port_;
    TransportSettings settings_;
    std::vector<std::unique_ptr<beast::tcp_stream>> idle_;
};

}  // namespace

SendOutcome classify(int http_status, std::string_view body, config::Duration retry_after) {
    SendOutcome out;
    out.retry_after = retry_after;
    rapidjson::Document doc;
    doc.Parse(body.data(), body.size());
    const bool json = !doc.HasParseError() && doc.IsObject();
    if (http_status == 200 && json) {
        const auto messages = doc.FindMember("messages");
        if (messages != doc.MemberEnd() && messages->value.IsArray() && !messages->value.Empty() &&
            messages->value[0].HasMember("id") && messages->value[0]["id"].IsString()) {
            out.kind = SendOutcome::Kind::sent;
            out.wamid = messages->value[0]["id"].GetString();
            return out;
        }
        const auto success = doc.FindMember("success");
        if (success != doc.MemberEnd() && success->value.IsBool() && success->value.GetBool()) {
            out.kind = SendOutcome::Kind::sent;   // mark_as_read answers {"success": true}
            return out;
        }
    }
    out.code = http_status;
    out.error = "HTTP " + std::to_string(http_status);
    bool transient_flag = false;
    if (json) {
        const auto error = doc.FindMember("error");
        if (error != doc.MemberEnd() && error->value.IsObject()) {
            const auto& e = error->value;
            if (e.HasMember("code") && e["code"].IsInt64()) out.code = e["code"].GetInt64();
            if (e.HasMember("message") && e["message"].IsString()) out.error = e["message"].GetString();
            if (e.HasMember("is_transient") && e["is_transient"].IsBool()) transient_flag = e["is_transient"].GetBool();
        }
    }
    if (is_rate_limit(out.code) || (http_status == 429 && out.code == 429)) out.kind = SendOutcome::Kind::rate_limited;
    else if (is_transient(out.code) || transient_flag || (http_status >= 500 && out.code == http_status)) out.kind = SendOutcome::Kind::transient;
    else out.kind = SendOutcome::Kind::permanent;
    return out;
}

std::unique_ptr<Transport> make_transport(net::any_io_executor executor, const TransportSettings& settings, std::string& error) {
    if (settings.base_url == "sandbox") return std::make_unique<Sandbox>(std::move(executor), settings.sandbox_latency);
    constexpr std::string_view http = "http://";
    if (std::string_view(settings.base_url).starts_with(http)) {
        auto rest = std::string_view(settings.base_url).substr(http.size());
        rest = rest.substr(0, rest.find('/'));
        const auto colon = rest.rfind(':');
        const std::string host(rest.substr(0, colon));
        const std::string port(colon == std::string_view::npos ? "80" : rest.substr(colon + 1));
        return std::make_unique<LoopbackHttp>(std::move(executor), host, port, settings);
    }
    error = "graph.base_url '" + settings.base_url +
            "': HTTPS to Meta is not built yet in this version; use \"sandbox\" (or an http:// loopback test server)";
    return nullptr;
}

}  // namespace wappa::graph
