#include "wappa/live/hub.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <deque>

#include "wappa/core/json.hpp"
#include "wappa/http/upgrade.hpp"
#include "wappa/live/websocket.hpp"
#include "wappa/redis/client.hpp"

namespace wappa::live {
namespace {

using net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t replay_chunk = 500;
constexpr std::size_t max_client_message = 64 * 1024;
constexpr std::size_t frames_per_write = 512;

enum class Transport { sse, websocket };

std::string_view transport_name(Transport t) { return t == Transport::sse ? "sse" : "websocket"; }

std::string sse_head() {
    return "HTTP/1.1 200 OK\r\nServer: wappa\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
           "Connection: keep-alive\r\nX-Accel-Buffering: no\r\n\r\n"
           // Tells EventSource how long to wait before reconnecting.
           "retry: 2000\n\n";
}

std::string websocket_head(std::string_view key) {
    return "HTTP/1.1 101 Switching Protocols\r\nServer: wappa\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: " + websocket_accept(key) + "\r\n\r\n";
}

}  // namespace

LiveMetrics::LiveMetrics(metrics::Registry& registry)
    : connections(registry.counter("wappa_live_connections_total", "Live event clients accepted, by transport", {"transport"})),
      frames(registry.counter("wappa_live_events_sent_total", "Events written to live clients (replayed or live), by transport",
                              {"transport"})),
      closed(registry.counter("wappa_live_disconnects_total",
                              "Live clients gone, by reason (client, slow_consumer, shutdown, protocol_error, write_error)", {"reason"})),
      published(registry.counter("wappa_live_publishes_total", "Messages WebSocket clients published, by outcome", {"outcome"})) {
    registry.gauge_family("wappa_live_clients", "Live event clients connected now, by transport", {"transport"}, [this] {
        std::vector<metrics::Sample> samples;
        samples.push_back({{"sse"}, static_cast<double>(sse_clients.load())});
        samples.push_back({{"websocket"}, static_cast<double>(websocket_clients.load())});
        return samples;
    });
}

class Session;

struct Hub::Impl : std::enable_shared_from_this<Hub::Impl> {
    Impl(net::any_io_executor ex, HubSettings s, redis::Client& r, LiveMetrics& m)
        : executor(ex), settings(std::move(s)), replay(r), metrics(m), tail_client(ex, settings.redis) {}

    net::any_io_executor executor;
    HubSettings settings;
    redis::Client& replay;
    LiveMetrics& metrics;
    redis::Client tail_client;
    std::vector<std::shared_ptr<Session>> sessions;
    bool stopping = false;
    bool started = false;
    pubsub::LogCursor cursor;
    bool positioned = false;

    // Writers are woken at most once per flush_interval under load: a thousand clients cost a
    // thousand writes per flush, not per event.
    static constexpr auto flush_interval = std::chrono::milliseconds(10);
    std::vector<std::shared_ptr<Session>> to_wake;
    net::steady_timer flush_timer{executor};
    std::chrono::steady_clock::time_point last_flush{};
    bool flush_scheduled = false;

    Task<Status> position();
    Task<void> tail(std::shared_ptr<Impl> self);
    void fan_out(const std::shared_ptr<const LiveEvent>& event);
    void flush();
    void wake_now();
};

class Session : public http::Upgrade, public std::enable_shared_from_this<Session> {
public:
    Session(std::shared_ptr<Hub::Impl> hub, Transport transport, Subscription subscription, std::string head)
        : hub_(std::move(hub)), transport_(transport), subscription_(std::move(subscription)), head_(std::move(head)),
          socket_(hub_->executor), wake_(hub_->executor), reader_(max_client_message) {}

    Task<void> run(tcp::socket socket) override;

    // A live event from the hub; true when the writer needs waking (the hub does it, batched).
    bool offer(const std::shared_ptr<const LiveEvent>& event) {
        if (closing_ || !subscription_.filter.matches(*event) || replayed_already(*event)) return false;
        if (queue_.size() >= hub_->settings.queue_limit) {
            close("slow_consumer", 1008, "slow consumer: more than " + std::to_string(hub_->settings.queue_limit) + " events waiting");
            return false;
        }
        queue_.push_back(event);
        return !replaying_ && queue_.size() == 1;
    }
    void wake() { wake_.cancel(); }

    // Ends the session: a last frame saying why, then the connection is closed. A client that
    // does not take that frame within a second is disconnected all the same.
    void close(std::string reason_label, std::uint16_t code, std::string reason) {
        if (closing_) return;
        closing_ = true;
        queue_.clear();
        hub_->metrics.closed.inc({reason_label});
        if (reason_label != "client") spdlog::info("live {} client {}: closing: {}", transport_name(transport_), peer_, reason);
        if (transport_ == Transport::websocket) {
            control_.push_back(websocket_close_frame(code, reason));
        } else {
            control_.push_back("event: closed\ndata: " + std::string("{\"reason\":") + json::quote(reason) + "}\n\n");
        }
        wake_.cancel();
        net::co_spawn(hub_->executor, force_close(shared_from_this()), net::detached);
    }

private:
    Task<void> force_close([[maybe_unused]] std::shared_ptr<Session> self) {
        net::steady_timer timer(hub_->executor);
        timer.expires_after(std::chrono::seconds(1));
        co_await timer.async_wait(use_tuple);
        boost::system::error_code ignored;
        socket_.close(ignored);
    }

    Task<Status> write_now(std::vector<net::const_buffer>& buffers) {
        auto [ec, n] = co_await net::async_write(socket_, buffers, use_tuple);
        if (ec) co_return Error{ec.message()};
        co_return Status{};
    }

    // This session's encoding of an event (rendered once per event, shared by every session).
    const std::string& frame_of(const LiveEvent& e) const { return transport_ == Transport::sse ? e.sse : e.websocket; }

    Task<bool> replay();
    // The hub's tail may hand over an event after the replay wrote it from the log (the two read
    // Redis on different connections): what the replay wrote is not sent again.
    bool replayed_already(const LiveEvent& e) const {
        for (std::size_t i = 0; i < replayed_.tenants.size(); ++i) {
            if (replayed_.tenants[i] == e.tenant) return e.id <= replayed_.after[i];
        }
        return false;
    }
    Task<void> write_loop();
    Task<void> read_loop(std::shared_ptr<Session> self);
    Task<std::string> handle_message(std::string text);

    std::shared_ptr<Hub::Impl> hub_;
    Transport transport_;
    Subscription subscription_;
    std::string head_;
    std::string peer_;
    tcp::socket socket_;
    net::steady_timer wake_;
    FrameReader reader_;
    std::deque<std::shared_ptr<const LiveEvent>> queue_;
    std::deque<std::string> control_;   // pongs, publish answers, the close frame
    pubsub::LogCursor replayed_;         // per tenant, the last id the replay wrote (or Last-Event-ID)
    bool replaying_ = true;
    bool closing_ = false;
    bool gone_ = false;                  // the client closed or the socket failed
};

Task<void> Session::run(tcp::socket socket) {
    socket_ = std::move(socket);
    boost::system::error_code ec;
    const auto remote = socket_.remote_endpoint(ec);
    peer_ = ec ? std::string("?") : remote.address().to_string() + ":" + std::to_string(remote.port());
    auto self = shared_from_this();
    std::vector<net::const_buffer> head{net::buffer(head_)};
    if (auto written = co_await write_now(head); !written) co_return;
    auto& counter = transport_ == Transport::sse ? hub_->metrics.sse_clients : hub_->metrics.websocket_clients;
    ++counter;
    hub_->metrics.connections.inc({transport_name(transport_)});
    hub_->sessions.push_back(self);
    net::co_spawn(hub_->executor, read_loop(self), net::detached);
    bool replayed = true;
    if (subscription_.resume) replayed = co_await replay();
    // Live events that arrived during the replay and were replayed already are dropped.
    std::erase_if(queue_, [this](const auto& e) { return replayed_already(*e); });
    replaying_ = false;
    if (replayed) co_await write_loop();
    auto& list = hub_->sessions;
    list.erase(std::remove(list.begin(), list.end(), self), list.end());
    --counter;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    wake_.cancel();
}

// The log after the client's last id, in chunks, then the live queue takes over: the events it
// holds that were replayed already are dropped by the caller, and later ones by offer() (ids are
// ordered within a tenant, and across tenants but on a cluster, so the cursor is per tenant).
Task<bool> Session::replay() {
    auto& cursor = replayed_;
    cursor.tenants = subscription_.filter.tenants.empty() ? hub_->settings.tenants : subscription_.filter.tenants;
    cursor.after.assign(cursor.tenants.size(), *subscription_.resume);
    while (!closing_) {
        auto chunk = co_await pubsub::read_logs(hub_->replay, hub_->settings.prefix, cursor, 0, replay_chunk);
        if (!chunk) {
            close("replay_error", 1011, "cannot replay the event log: " + chunk.error().message);
            co_return true;   // the write loop sends the reason
        }
        if (chunk->empty()) break;
        std::vector<std::shared_ptr<const LiveEvent>> batch;
        for (const auto& logged : *chunk) {
            auto event = make_live_event(logged, hub_->settings.prefix);
            if (subscription_.filter.matches(*event)) batch.push_back(std::move(event));
        }
        if (batch.empty()) continue;
        std::vector<net::const_buffer> buffers;
        for (const auto& e : batch) buffers.push_back(net::buffer(frame_of(*e)));
        if (auto written = co_await write_now(buffers); !written) co_return false;
        hub_->metrics.frames.inc({transport_name(transport_)}, batch.size());
    }
    co_return true;
}

Task<void> Session::write_loop() {
    std::vector<std::shared_ptr<const LiveEvent>> events;
    std::vector<std::string> controls;
    std::vector<net::const_buffer> buffers;
    while (!gone_) {
        if (queue_.empty() && control_.empty()) {
            if (closing_) break;
            wake_.expires_after(hub_->settings.ping_interval);
            auto [ec] = co_await wake_.async_wait(use_tuple);
            if (!ec && queue_.empty() && control_.empty() && !closing_ && !gone_) {   // idle: keep the connection alive
                control_.push_back(transport_ == Transport::websocket ? websocket_frame(Opcode::ping, "") : std::string(": ping\n\n"));
            }
            continue;
        }
        events.clear();
        controls.clear();
        buffers.clear();
        while (!control_.empty()) {
            controls.push_back(std::move(control_.front()));
            control_.pop_front();
        }
        while (!queue_.empty() && events.size() < frames_per_write) {
            events.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        for (const auto& e : events) buffers.push_back(net::buffer(frame_of(*e)));
        for (const auto& c : controls) buffers.push_back(net::buffer(c));
        if (auto written = co_await write_now(buffers); !written) {
            if (!closing_) hub_->metrics.closed.inc({gone_ ? "client" : "write_error"});
            break;
        }
        if (!events.empty()) hub_->metrics.frames.inc({transport_name(transport_)}, events.size());
    }
}

Task<void> Session::read_loop([[maybe_unused]] std::shared_ptr<Session> self) {
    std::array<char, 4096> buffer;
    for (;;) {
        auto [ec, n] = co_await socket_.async_read_some(net::buffer(buffer), use_tuple);
        if (ec) break;
        if (transport_ == Transport::sse) continue;   // nothing to read; a read only notices the client leaving
        reader_.feed(std::string_view(buffer.data(), n));
        while (auto message = reader_.next()) {
            switch (message->opcode) {
                case Opcode::ping: control_.push_back(websocket_frame(Opcode::pong, message->payload)); wake_.cancel(); break;
                case Opcode::pong: break;
                case Opcode::close: close("client", 1000, "bye"); break;
                default: {
                    auto answer = co_await handle_message(std::move(message->payload));
                    if (!closing_) {
                        control_.push_back(websocket_frame(Opcode::text, answer));
                        wake_.cancel();
                    }
                }
            }
        }
        if (!reader_.error().empty()) {
            close("protocol_error", reader_.error_code(), reader_.error());
            co_return;
        }
        if (closing_) co_return;
    }
    if (!closing_) {   // the client went away: nothing more can be written
        gone_ = true;
        closing_ = true;
        queue_.clear();
        hub_->metrics.closed.inc({"client"});
        boost::system::error_code ignored;
        socket_.close(ignored);
        wake_.cancel();
    }
}

// {"publish": {"channel": "<prefix>:notify:<tenant>:<user>:<event>", "data": {...}}} on one of
// the client's own tenants' channels; the answer is {"published": ...} or {"error": ...}.
Task<std::string> Session::handle_message(std::string text) {
    const auto refuse = [this](std::string message) {
        hub_->metrics.published.inc({"refused"});
        return "{\"error\":" + json::quote(message) + "}";
    };
    rapidjson::Document doc;
    doc.Parse(text.data(), text.size());
    if (doc.HasParseError() || !doc.IsObject()) co_return refuse("a message must be a JSON object, e.g. {\"publish\":{\"channel\":...,\"data\":{...}}}");
    const auto publish = doc.FindMember("publish");
    if (publish == doc.MemberEnd() || !publish->value.IsObject()) co_return refuse("unknown message: expected {\"publish\":{\"channel\":...,\"data\":...}}");
    const auto channel = publish->value.FindMember("channel");
    const auto data = publish->value.FindMember("data");
    if (channel == publish->value.MemberEnd() || !channel->value.IsString()) co_return refuse("publish.channel: required, a string");
    if (data == publish->value.MemberEnd()) co_return refuse("publish.data: required");
    const std::string name(channel->value.GetString(), channel->value.GetStringLength());
    const auto parts = pubsub::parse_channel(hub_->settings.prefix, name);
    if (!parts) co_return refuse("publish.channel: '" + name + "' is not " + hub_->settings.prefix + ":notify:<tenant>:<user>:<event>");
    const auto& allowed = subscription_.may_publish;
    if (std::find(allowed.begin(), allowed.end(), parts->tenant) == allowed.end()) {
        co_return refuse("publish.channel: tenant '" + parts->tenant + "' is not yours to publish on");
    }
    rapidjson::StringBuffer out;
    rapidjson::Writer<rapidjson::StringBuffer> writer(out);
    data->value.Accept(writer);
    std::vector<std::pair<std::string, std::string>> one;
    one.emplace_back(name, std::string(out.GetString(), out.GetSize()));
    auto receivers = co_await pubsub::publish_logged(hub_->replay, hub_->settings.prefix, hub_->settings.event_log_max_len, parts->tenant,
                                                     std::move(one));
    if (!receivers) {
        hub_->metrics.published.inc({"failed"});
        co_return "{\"error\":" + json::quote("not published: " + receivers.error().message) + "}";
    }
    hub_->metrics.published.inc({"published"});
    co_return "{\"published\":{\"channel\":" + json::quote(name) + ",\"receivers\":" + std::to_string(receivers.value()) + "}}";
}

void Hub::Impl::fan_out(const std::shared_ptr<const LiveEvent>& event) {
    for (const auto& session : sessions) {
        if (session->offer(event)) to_wake.push_back(session);
    }
}

void Hub::Impl::wake_now() {
    last_flush = std::chrono::steady_clock::now();
    for (const auto& session : to_wake) session->wake();
    to_wake.clear();
}

// At once when the last flush is older than flush_interval (an idle hub adds no delay), else at
// the end of that interval.
void Hub::Impl::flush() {
    if (to_wake.empty() || flush_scheduled) return;
    const auto due = last_flush + flush_interval;
    if (std::chrono::steady_clock::now() >= due) {
        wake_now();
        return;
    }
    flush_scheduled = true;
    flush_timer.expires_at(due);
    flush_timer.async_wait([self = shared_from_this()](boost::system::error_code) {
        self->flush_scheduled = false;
        self->wake_now();
    });
}

// The hub follows every log from the last id handed out when it starts: what came before is
// for replays.
Task<Status> Hub::Impl::position() {
    if (!started) {
        tail_client.start();
        started = true;
    }
    if (positioned) co_return Status{};
    if (!tail_client.connected()) {
        auto connected = co_await tail_client.wait_connected(settings.redis.connect_timeout);
        if (!connected) co_return connected.error();
    }
    auto last = co_await pubsub::last_event_ids(tail_client, settings.prefix, settings.tenants);
    if (!last) co_return last.error();
    cursor.tenants = settings.tenants;
    cursor.after = std::move(*last);
    positioned = true;
    co_return Status{};
}

// Reads every tenant's log; Redis going away only pauses it (the cursor stays, so nothing is
// skipped when it comes back).
Task<void> Hub::Impl::tail([[maybe_unused]] std::shared_ptr<Impl> self) {
    net::steady_timer backoff(executor);
    bool warned = false;
    const auto block_ms = pubsub::follow_block_ms(settings.redis.command_timeout.count());
    while (!stopping) {
        Status status = co_await position();
        if (status) {
            auto events = co_await pubsub::read_logs(tail_client, settings.prefix, cursor, block_ms, 1000);
            if (events) {
                warned = false;
                for (const auto& logged : *events) fan_out(make_live_event(logged, settings.prefix));
                flush();
                continue;
            }
            status = events.error();
        }
        if (stopping) break;
        if (!warned) spdlog::warn("live events: reading the event log failed ({}); retrying", status.error().message);
        warned = true;
        backoff.expires_after(std::chrono::milliseconds(500));
        co_await backoff.async_wait(use_tuple);
    }
}

Hub::Hub(net::any_io_executor executor, HubSettings settings, redis::Client& replay, LiveMetrics& metrics)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(settings), replay, metrics)) {}

Hub::~Hub() = default;

Task<Status> Hub::prepare() {
    if (impl_->settings.tenants.empty()) co_return Status{};
    co_return co_await impl_->position();
}

void Hub::start() {
    if (impl_->settings.tenants.empty()) return;
    net::co_spawn(impl_->executor, impl_->tail(impl_), net::detached);
}

void Hub::stop() {
    impl_->stopping = true;
    impl_->tail_client.stop();
    const auto sessions = impl_->sessions;
    for (const auto& s : sessions) s->close("shutdown", 1001, "server shutting down");
}

http::Response Hub::server_sent_events(Subscription subscription) {
    http::Response response;
    response.upgrade = std::make_shared<Session>(impl_, Transport::sse, std::move(subscription), sse_head());
    return response;
}

http::Response Hub::websocket(Subscription subscription, std::string_view client_key) {
    http::Response response;
    response.upgrade = std::make_shared<Session>(impl_, Transport::websocket, std::move(subscription), websocket_head(client_key));
    return response;
}

}  // namespace wappa::live
