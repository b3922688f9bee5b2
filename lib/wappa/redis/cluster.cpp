#include "wappa/redis/cluster.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <optional>

namespace wappa::redis {
namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

struct EventCounters {
    std::atomic<std::uint64_t> moved{0}, ask{0}, retried{0}, map_changes{0}, replica_wait_timeouts{0};
};
EventCounters counters;
void count(std::atomic<std::uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

using SteadyClock = std::chrono::steady_clock;
constexpr int max_redirects = 5;

std::string address_of(std::string_view host, std::int64_t port) { return std::string(host) + ":" + std::to_string(port); }

// "MOVED 3999 127.0.0.1:6381" → slot and address.
std::optional<std::pair<std::uint16_t, std::string>> redirect_of(const std::string& error) {
    const auto first = error.find(' ');
    const auto second = first == std::string::npos ? std::string::npos : error.find(' ', first + 1);
    if (second == std::string::npos) return std::nullopt;
    const auto slot = std::atol(error.substr(first + 1, second - first - 1).c_str());
    if (slot < 0 || slot >= slot_count) return std::nullopt;
    return std::make_pair(static_cast<std::uint16_t>(slot), error.substr(second + 1));
}

bool is_script(const std::vector<std::string_view>& arguments) {
    if (arguments.empty()) return false;
    std::string name(arguments.front());
    for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return name == "EVALSHA" || name == "EVAL";
}

Command command_of(const std::vector<std::string_view>& arguments) {
    Command c(arguments.front());
    for (std::size_t i = 1; i < arguments.size(); ++i) c.arg(arguments[i]);
    return c;
}

// One XREAD / XREADGROUP answer from per-slot answers: the streams that had entries, or nil.
Reply merge_stream_reads(std::vector<Reply>& parts) {
    Reply merged;
    for (auto& part : parts) {
        if (part.is_error()) return std::move(part);
        if (part.type != Reply::Type::array) continue;
        merged.type = Reply::Type::array;
        for (auto& stream : part.elements) merged.elements.push_back(std::move(stream));
    }
    return merged;
}

}  // namespace

ClusterEventCounts cluster_event_counts() {
    ClusterEventCounts c;
    c.moved = counters.moved.load(std::memory_order_relaxed);
    c.ask = counters.ask.load(std::memory_order_relaxed);
    c.retried = counters.retried.load(std::memory_order_relaxed);
    c.map_changes = counters.map_changes.load(std::memory_order_relaxed);
    c.replica_wait_timeouts = counters.replica_wait_timeouts.load(std::memory_order_relaxed);
    return c;
}

struct Cluster::NodeBatches {
    NodeBatches(net::any_io_executor executor, std::size_t nodes) : answers(nodes), pending(nodes), signal(std::move(executor)) {}
    std::vector<Result<std::vector<Reply>>> answers;
    std::size_t pending;
    net::steady_timer signal;   // cancelled when the last node has answered
};

Task<void> Cluster::node_batch(std::shared_ptr<NodeBatches> batches, std::size_t index, Client* client, std::vector<Command> batch) {
    if (!client->connected()) {
        auto up = co_await client->wait_connected(std::min<config::Duration>(settings_.connect_timeout, std::chrono::milliseconds(1000)));
        (void)up;   // exec says why
    }
    batches->answers[index] = co_await client->exec(batch);
    if (--batches->pending == 0) batches->signal.cancel();
}

struct Cluster::Gather {
    explicit Gather(net::any_io_executor executor, std::size_t parts)
        : results(parts), ids(parts, -1), done(parts, false), signal(std::move(executor)) {}
    std::vector<Result<Reply>> results;
    std::vector<std::int64_t> ids;   // each blocking connection's CLIENT ID, once known
    std::vector<bool> done;
    std::size_t finished = 0;
    bool releasing = false;          // one part answered: the others are released, none starts
    net::steady_timer signal;
};

Cluster::Cluster(net::any_io_executor executor, Settings settings)
    : executor_(executor), settings_(std::move(settings)), owner_(slot_count, no_owner), refresh_signal_(executor) {
    for (const auto& [host, port] : settings_.endpoint.seeds) seeds_.push_back(address_of(host, port));
}

void Cluster::start() {
    for (const auto& seed : seeds_) node(seed);
    net::co_spawn(executor_, run(shared_from_this()), net::detached);
}

void Cluster::stop() {
    net::dispatch(executor_, [self = shared_from_this()] {
        if (self->stopped_) return;
        self->stopped_ = true;
        self->refresh_signal_.cancel();
        for (auto& [address, client] : self->nodes_) client->stop();
        for (auto& [key, client] : self->blocking_) client->stop();
    });
}

Settings Cluster::node_settings(const std::string& address) const {
    Settings s = settings_;
    const auto colon = address.rfind(':');
    s.endpoint.host = address.substr(0, colon);
    s.endpoint.port = static_cast<std::uint16_t>(std::atoi(address.c_str() + colon + 1));
    s.endpoint.cluster = false;
    s.endpoint.seeds.clear();
    s.name = settings_.name + " node " + address;
    return s;
}

Client& Cluster::node(const std::string& address) {
    auto found = nodes_.find(address);
    if (found != nodes_.end()) return *found->second;
    auto client = std::make_unique<Client>(executor_, node_settings(address));
    client->start();
    if (stopped_) client->stop();
    return *nodes_.emplace(address, std::move(client)).first->second;
}

Client& Cluster::blocking_node(const std::string& address, std::uint16_t slot) {
    const auto key = std::make_pair(address, slot);
    auto found = blocking_.find(key);
    if (found != blocking_.end()) return *found->second;
    Settings s = node_settings(address);
    s.name += " (blocking reads, slot " + std::to_string(slot) + ")";
    auto client = std::make_unique<Client>(executor_, std::move(s));
    client->start();
    if (stopped_) client->stop();
    return *blocking_.emplace(key, std::move(client)).first->second;
}

std::string Cluster::owner(std::uint16_t slot) const {
    const auto at = owner_[slot];
    return at == no_owner ? std::string() : masters_[at];
}

std::string Cluster::any_master() const { return masters_.empty() ? seeds_.front() : masters_.front(); }

bool Cluster::has_replica(const std::string& address) const {
    const auto at = std::find(masters_.begin(), masters_.end(), address) - masters_.begin();
    return static_cast<std::size_t>(at) < replicated_.size() && replicated_[static_cast<std::size_t>(at)];
}

std::int64_t Cluster::replica_wait_ms() const {
    return std::clamp<std::int64_t>(settings_.command_timeout.count() / 4, 10, 500);
}

bool Cluster::connected() const {
    if (!loaded_ || stopped_) return false;
    for (const auto& m : masters_) {
        auto found = nodes_.find(m);
        if (found == nodes_.end() || !found->second->connected()) return false;
    }
    return true;
}

// A cluster with a master down still serves the other masters' slots: once the map is loaded,
// the masters get a second to connect, then whatever is up is enough (commands for the missing
// master's slots fail on their own until it is back or replaced).
Task<Status> Cluster::wait_connected(config::Duration timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    auto settle_until = SteadyClock::time_point::max();
    while (!connected() && !stopped_) {
        const auto now = SteadyClock::now();
        if (loaded_ && settle_until == SteadyClock::time_point::max()) settle_until = now + std::chrono::seconds(1);
        if (now >= deadline || now >= settle_until) break;
        co_await sleep(std::chrono::milliseconds(50));
    }
    if (connected()) co_return Status{};
    std::string missing;
    bool any_up = false;
    if (loaded_) {
        for (const auto& m : masters_) {
            if (node(m).connected()) any_up = true;
            else missing += (missing.empty() ? "" : ", ") + m;
        }
    }
    if (any_up && !stopped_) {
        spdlog::warn("{}: master(s) {} unreachable: their slots fail until they are back or a replica takes over", settings_.name, missing);
        co_return Status{};
    }
    co_return Error{"redis cluster unavailable: " + (loaded_ ? "no master is connected (" + missing + ")" : last_error_)};
}

void Cluster::request_refresh() {
    refresh_wanted_ = true;
    refresh_signal_.cancel();
}

Task<void> Cluster::sleep(config::Duration duration) {
    net::steady_timer timer(executor_, duration);
    co_await timer.async_wait(use_tuple);
}

Status Cluster::apply_slot_map(const Reply& reply, const std::string& asked_host) {
    if (reply.type != Reply::Type::array || reply.elements.empty()) return Error{"an empty slot map (is cluster mode on?)"};
    std::vector<std::string> masters;
    std::vector<bool> replicated;
    std::vector<std::uint16_t> owner(slot_count, no_owner);
    std::vector<SlotRange> ranges;
    for (const auto& range : reply.elements) {
        if (range.elements.size() < 3 || range.elements[2].elements.size() < 2) return Error{"a malformed CLUSTER SLOTS answer"};
        const auto first = range.elements[0].integer, last = range.elements[1].integer;
        const auto& master = range.elements[2];
        // An empty host means "the address you reached me at".
        const auto& host = master.elements[0].str.empty() ? asked_host : master.elements[0].str;
        const auto address = address_of(host, master.elements[1].integer);
        ranges.push_back(SlotRange{first, last, address});
        auto at = std::find(masters.begin(), masters.end(), address) - masters.begin();
        if (static_cast<std::size_t>(at) == masters.size()) {
            masters.push_back(address);
            replicated.push_back(false);
        }
        // Replicas follow the master; CLUSTER SLOTS leaves out the ones that have failed.
        if (range.elements.size() > 3) replicated[static_cast<std::size_t>(at)] = true;
        for (auto s = std::max<std::int64_t>(first, 0); s <= last && s < slot_count; ++s) owner[static_cast<std::size_t>(s)] = static_cast<std::uint16_t>(at);
    }
    std::sort(ranges.begin(), ranges.end());
    if (loaded_ && ranges != loaded_ranges_) count(counters.map_changes);
    loaded_ranges_ = std::move(ranges);
    if (masters != masters_) {
        std::string listed;
        for (const auto& m : masters) listed += (listed.empty() ? "" : ", ") + m;
        spdlog::info("{} slot map: masters {}", settings_.name, listed);
    }
    masters_ = std::move(masters);
    replicated_ = std::move(replicated);
    owner_ = std::move(owner);
    return Status{};
}

// Nodes that are neither a master nor a seed are stopped: a failed master that came back as a
// replica, or never came back.
void Cluster::retire_unused() {
    auto in_use = [&](const std::string& address) {
        return std::find(masters_.begin(), masters_.end(), address) != masters_.end() ||
               std::find(seeds_.begin(), seeds_.end(), address) != seeds_.end();
    };
    for (auto it = nodes_.begin(); it != nodes_.end();) {
        if (in_use(it->first)) { ++it; continue; }
        it->second->stop();
        retired_.push_back(std::move(it->second));
        it = nodes_.erase(it);
    }
    for (auto it = blocking_.begin(); it != blocking_.end();) {
        if (std::find(masters_.begin(), masters_.end(), it->first.first) != masters_.end()) { ++it; continue; }
        it->second->stop();
        retired_.push_back(std::move(it->second));
        it = blocking_.erase(it);
    }
}

Task<Status> Cluster::refresh() {
    std::vector<std::string> candidates = masters_;
    for (const auto& s : seeds_) candidates.push_back(s);
    for (const auto& [address, client] : nodes_) candidates.push_back(address);
    std::vector<std::string> asked;
    std::string error = "no node answered";
    const auto wait = std::min<config::Duration>(settings_.connect_timeout, std::chrono::milliseconds(1000));
    for (const auto& address : candidates) {
        if (std::find(asked.begin(), asked.end(), address) != asked.end()) continue;
        asked.push_back(address);
        Client& client = node(address);
        if (!client.connected()) {
            auto up = co_await client.wait_connected(wait);
            if (!up) {
                error = address + ": " + up.error().message;
                if (!loaded_) last_error_ = "no seed node gave the slot map yet (" + error + ")";
                continue;
            }
        }
        auto reply = co_await client.exec(Command("CLUSTER", std::string("SLOTS")));
        if (!reply) {
            error = address + ": " + reply.error().message;
            continue;
        }
        if (reply->is_error()) {
            error = address + " refused CLUSTER SLOTS: " + reply->str;
            continue;
        }
        const auto host = address.substr(0, address.rfind(':'));
        auto applied = apply_slot_map(*reply, host);
        if (!applied) {
            error = address + ": " + applied.error().message;
            continue;
        }
        retire_unused();
        co_return Status{};
    }
    co_return Error{"no node of the cluster gave its slot map (" + error + ")"};
}

// The frame owns `self` until the loop ends. The map is reloaded when asked (MOVED, a lost
// node), every half second while a master in it is unreachable (until a replica has been
// promoted, that is the only way to learn of it), and every 30 s otherwise: a replica added or
// back since is only known from the map, and it decides whether writes wait for one.
Task<void> Cluster::run([[maybe_unused]] std::shared_ptr<Cluster> self) {
    bool reported = false;
    while (!stopped_) {
        refresh_wanted_ = false;
        auto status = co_await refresh();
        if (stopped_) break;
        if (status) {
            if (!loaded_ || reported) spdlog::info("{} cluster slot map loaded", settings_.name);
            loaded_ = true;
            reported = false;
        } else {
            last_error_ = status.error().message;
            if (!reported) spdlog::error("{}: {}", settings_.name, last_error_);
            reported = true;
        }
        if (refresh_wanted_) continue;
        bool healthy = static_cast<bool>(status);
        for (const auto& m : masters_) {
            if (!node(m).connected()) healthy = false;
        }
        refresh_signal_.expires_after(healthy ? config::Duration(std::chrono::seconds(30)) : config::Duration(std::chrono::milliseconds(500)));
        co_await refresh_signal_.async_wait(use_tuple);
    }
}

Task<Result<std::vector<Reply>>> Cluster::exec(const std::vector<Command>& commands) {
    if (!loaded_) co_return Error{"redis cluster unavailable: " + last_error_};
    const auto n = commands.size();
    std::vector<Reply> replies(n);
    std::vector<std::string> target(n);
    std::vector<bool> asking(n, false);
    // Each command's arguments are read once: its route, and whether it is a script (a write).
    std::vector<CommandRoute> routes(n);
    std::vector<bool> scripts(n, false);
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < n; ++i) {
        const auto arguments = commands[i].arguments();
        const auto route = routes[i] = route_of(arguments);
        scripts[i] = is_script(arguments);
        target[i] = route.kind == CommandRoute::Kind::any_node ? any_master() : owner(route.slot);
        if (target[i].empty()) co_return Error{"redis cluster unavailable: no node serves slot " + std::to_string(route.slot)};
        todo.push_back(i);
    }
    for (int round = 0; !todo.empty(); ++round) {
        std::map<std::string, std::vector<std::size_t>> by_node;
        for (auto i : todo) by_node[target[i]].push_back(i);
        // Each node's part is pipelined on its connection, and the nodes are asked at once.
        auto batches = std::make_shared<NodeBatches>(executor_, by_node.size());
        std::vector<bool> waited(by_node.size(), false);
        std::size_t g = 0;
        for (auto group = by_node.begin(); group != by_node.end(); ++group, ++g) {
            std::vector<Command> batch;
            bool writes = false;
            for (auto i : group->second) {
                if (asking[i]) batch.emplace_back("ASKING");
                batch.push_back(commands[i]);
                writes = writes || scripts[i];
            }
            // A failover loses what the master had not yet passed on: a script's writes (what
            // wappa acknowledges) wait for the replica, bounded, before they are answered.
            if (writes && has_replica(group->first)) {
                batch.emplace_back("WAIT", std::string("1"), std::to_string(replica_wait_ms()));
                waited[g] = true;
            }
            Client* client = &node(group->first);
            if (by_node.size() == 1) {
                co_await node_batch(batches, 0, client, std::move(batch));
            } else {
                net::co_spawn(executor_, node_batch(batches, g, client, std::move(batch)), net::detached);
            }
        }
        while (batches->pending > 0) {
            batches->signal.expires_at(SteadyClock::time_point::max());
            co_await batches->signal.async_wait(use_tuple);
        }
        g = 0;
        for (auto group = by_node.begin(); group != by_node.end(); ++group, ++g) {
            auto& answered = batches->answers[g];
            if (!answered) {
                request_refresh();
                Error lost;
                lost.message = answered.error().message + " (cluster node " + group->first + ")";
                lost.transient = true;
                co_return lost;
            }
            std::size_t k = 0;
            for (auto i : group->second) {
                if (asking[i]) ++k;
                replies[i] = std::move(answered.value()[k++]);
            }
            // WAIT answers how many replicas have the writes: none means acknowledged unreplicated.
            // The replica may be failing: the reloaded map drops it once the cluster says so, and
            // writes stop waiting for it.
            if (waited[g] && answered.value().back().integer < 1) {
                count(counters.replica_wait_timeouts);
                request_refresh();
            }
        }
        std::vector<std::size_t> again;
        bool pause = false;
        for (auto i : todo) {
            asking[i] = false;
            const auto& r = replies[i];
            if (!r.is_error()) continue;
            if (r.str.starts_with("MOVED ") || r.str.starts_with("ASK ")) {
                auto redirect = redirect_of(r.str);
                if (!redirect) continue;
                target[i] = redirect->second;
                if (r.str.starts_with("ASK ")) {
                    asking[i] = true;
                    count(counters.ask);
                } else {
                    count(counters.moved);
                    auto at = std::find(masters_.begin(), masters_.end(), redirect->second) - masters_.begin();
                    if (static_cast<std::size_t>(at) == masters_.size()) {
                        masters_.push_back(redirect->second);
                        replicated_.push_back(false);
                    }
                    owner_[redirect->first] = static_cast<std::uint16_t>(at);
                    request_refresh();
                }
                again.push_back(i);
            } else if (r.str.starts_with("TRYAGAIN") || r.str.starts_with("CLUSTERDOWN")) {
                if (r.str.starts_with("CLUSTERDOWN")) request_refresh();
                count(counters.retried);
                pause = true;
                again.push_back(i);
            }
        }
        if (again.empty() || round + 1 >= max_redirects) break;
        if (pause) co_await sleep(std::chrono::milliseconds(100 * (round + 1)));
        for (auto i : again) {
            if (asking[i]) continue;
            const auto& route = routes[i];
            if (route.kind != CommandRoute::Kind::any_node && !owner(route.slot).empty()) target[i] = owner(route.slot);
        }
        todo = std::move(again);
    }
    co_return replies;
}

Task<Result<Reply>> Cluster::exec(const Command& command) {
    const auto arguments = command.arguments();
    if (route_of(arguments).kind == CommandRoute::Kind::several_slots) {
        if (auto split = split_stream_read(arguments)) co_return co_await read_streams(*split);
    }
    std::vector<Command> one;
    one.push_back(command);
    auto replies = co_await exec(one);
    if (!replies) co_return replies.error();
    co_return std::move(replies->front());
}

Task<void> Cluster::blocking_part(std::shared_ptr<Gather> gather, std::size_t index, Client* client, Command command) {
    if (!client->connected()) {
        auto up = co_await client->wait_connected(std::min<config::Duration>(settings_.connect_timeout, std::chrono::milliseconds(1000)));
        (void)up;
    }
    auto id = co_await client->exec(Command("CLIENT", std::string("ID")));
    if (gather->releasing) {
        gather->results[index] = Reply{};
    } else {
        if (id && id->type == Reply::Type::integer) gather->ids[index] = id->integer;
        gather->results[index] = co_await client->exec(command);
    }
    gather->done[index] = true;
    ++gather->finished;
    gather->signal.cancel();
}

// Waits on every slot's stream at once, each on a connection of its own (a blocked command
// holds its connection); the first answer releases the others.
Task<Result<Reply>> Cluster::read_streams(const StreamReadSplit& split) {
    if (!loaded_) co_return Error{"redis cluster unavailable: " + last_error_};
    std::vector<Command> parts;
    for (const auto& p : split.parts) parts.push_back(command_of(p));
    if (!split.blocking) {
        auto replies = co_await exec(parts);
        if (!replies) co_return replies.error();
        co_return merge_stream_reads(*replies);
    }
    auto gather = std::make_shared<Gather>(executor_, parts.size());
    std::vector<std::string> addresses;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const auto slot = route_of(split.parts[i]).slot;
        addresses.push_back(owner(slot));
        if (addresses.back().empty()) co_return Error{"redis cluster unavailable: no node serves slot " + std::to_string(slot)};
        Client* client = &blocking_node(addresses.back(), slot);
        net::co_spawn(executor_, blocking_part(gather, i, client, parts[i]), net::detached);
    }
    while (gather->finished == 0) {
        gather->signal.expires_at(SteadyClock::time_point::max());
        co_await gather->signal.async_wait(use_tuple);
    }
    gather->releasing = true;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        // UNBLOCK can reach Redis before the read it releases: then it says 0, and is tried again.
        for (int attempt = 0; attempt < 20 && !gather->done[i] && gather->ids[i] >= 0; ++attempt) {
            auto released = co_await node(addresses[i]).exec(Command("CLIENT", std::string("UNBLOCK"), std::to_string(gather->ids[i]), std::string("TIMEOUT")));
            if (!released || (released->type == Reply::Type::integer && released->integer == 1)) break;
            co_await sleep(std::chrono::milliseconds(10));
        }
    }
    while (gather->finished < parts.size()) {
        gather->signal.expires_at(SteadyClock::time_point::max());
        co_await gather->signal.async_wait(use_tuple);
    }
    std::vector<Reply> answers;
    for (auto& r : gather->results) {
        if (!r) {
            request_refresh();   // the node may have failed over
            co_return r.error();
        }
        if (r->is_error() && (r->str.starts_with("MOVED ") || r->str.starts_with("CLUSTERDOWN"))) request_refresh();
        answers.push_back(std::move(r.value()));
    }
    co_return merge_stream_reads(answers);
}

Task<Result<std::vector<std::string>>> Cluster::scan(std::string pattern) {
    if (!loaded_) co_return Error{"redis cluster unavailable: " + last_error_};
    std::vector<std::string> keys;
    const auto masters = masters_;
    for (const auto& address : masters) {
        auto found = co_await node(address).scan(pattern);
        if (!found) co_return Error{found.error().message + " (cluster node " + address + ")"};
        for (auto& k : *found) keys.push_back(std::move(k));
    }
    co_return keys;
}

}  // namespace wappa::redis
