#include "wappa/service/inbound_admin.hpp"

#include <algorithm>
#include <set>

#include "wappa/core/json.hpp"
#include "wappa/pg/inbound_store.hpp"
#include "wappa/pg/pool.hpp"

namespace wappa::service {
namespace {

void append_counts(std::string& out, const std::map<std::string, std::int64_t>& counts) {
    out += '{';
    bool first = true;
    for (const auto& [k, v] : counts) {
        if (!first) out += ',';
        first = false;
        json::append_string(out, k);
        out += ':' + std::to_string(v);
    }
    out += '}';
}

std::int64_t sum(const std::map<std::string, std::int64_t>& counts) {
    std::int64_t n = 0;
    for (const auto& [k, v] : counts) n += v;
    return n;
}

void append_tenant(std::string& out, const queue::InboundTenantStats& s) {
    out += "{\"length\":" + std::to_string(s.length) + ",\"pending\":";
    append_counts(out, s.pending);
    out += ",\"lag\":";
    append_counts(out, s.lag);
    out += ",\"failed\":" + std::to_string(s.failed) + ",\"oldest_age_ms\":" + std::to_string(s.oldest_age_ms) + "}";
}

}  // namespace

queue::InboundStreamSettings inbound_stream_settings(const config::Config& c, std::string consumer) {
    queue::InboundStreamSettings s;
    s.prefix = c.redis.key_prefix;
    s.group = c.inbound.consumer_group;
    s.consumer = std::move(consumer);
    s.batch = static_cast<std::size_t>(c.inbound.batch);
    s.claim_idle = c.inbound.claim_idle;
    s.failed_max = c.inbound.failed_max;
    return s;
}

Task<Result<InboundView>> inbound_view(queue::InboundStream& stream, pg::Pool* pool) {
    InboundView view;
    auto stats = co_await stream.stats();
    if (!stats) co_return stats.error();
    view.tenants = std::move(stats.value());
    if (pool != nullptr) {
        pg::InboundStore store(*pool);
        auto counts = co_await store.delivery_counts();
        if (counts) view.delivery = std::move(counts.value());
        else view.delivery_error = counts.error().message;
    }
    co_return view;
}

void append_inbound_json(std::string& out, const InboundView& view, std::string_view only_tenant) {
    queue::InboundTenantStats total;
    for (const auto& [tenant, s] : view.tenants) {
        if (!only_tenant.empty() && tenant != only_tenant) continue;
        total.length += s.length;
        total.failed += s.failed;
        total.oldest_age_ms = std::max(total.oldest_age_ms, s.oldest_age_ms);
        for (const auto& [g, n] : s.pending) total.pending[g] += n;
        for (const auto& [g, n] : s.lag) total.lag[g] += n;
    }
    out += ",\"inbound\":{\"length\":" + std::to_string(total.length) + ",\"pending\":" + std::to_string(sum(total.pending)) +
           ",\"lag\":" + std::to_string(sum(total.lag)) + ",\"failed\":" + std::to_string(total.failed) +
           ",\"oldest_age_ms\":" + std::to_string(total.oldest_age_ms) + ",\"groups\":";
    std::map<std::string, std::int64_t> groups = total.pending;
    append_counts(out, groups);
    out += ",\"tenants\":{";
    bool first = true;
    for (const auto& [tenant, s] : view.tenants) {
        if (!only_tenant.empty() && tenant != only_tenant) continue;
        if (!first) out += ',';
        first = false;
        json::append_string(out, tenant);
        out += ':';
        append_tenant(out, s);
    }
    out += "}}";
    if (view.delivery) {
        out += ",\"delivery\":{";
        bool first_tenant = true;
        for (const auto& [tenant, counts] : *view.delivery) {
            if (!only_tenant.empty() && tenant != only_tenant) continue;
            if (!first_tenant) out += ',';
            first_tenant = false;
            json::append_string(out, tenant);
            out += ':';
            append_counts(out, counts);
        }
        out += '}';
    } else if (!view.delivery_error.empty()) {
        out += ",\"delivery_error\":";
        json::append_string(out, view.delivery_error);
    }
}

Task<Result<RequeueReport>> requeue_inbound(queue::InboundStream& stream, const config::Config& config, const RequeueSelection& selection) {
    const std::set<std::string> wanted(selection.ids.begin(), selection.ids.end());
    RequeueReport report;
    for (const auto& tenant : tenant_ids(config)) {
        if (!selection.tenant.empty() && tenant != selection.tenant) continue;
        auto failed = co_await stream.failed(tenant);
        if (!failed) co_return failed.error();
        std::vector<std::string> ids;
        for (const auto& f : failed.value()) {
            if (!wanted.empty() && !wanted.count(f.id)) continue;
            if (f.failed_at < selection.failed_from_ms || f.failed_at > selection.failed_to_ms) continue;
            ids.push_back(f.id);
        }
        constexpr std::size_t batch_size = 500;
        for (std::size_t i = 0; i < ids.size(); i += batch_size) {
            const std::vector<std::string> part(ids.begin() + static_cast<std::ptrdiff_t>(i),
                                                ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + batch_size)));
            auto moved = co_await stream.requeue(tenant, part, selection.dry_run);
            if (!moved) co_return moved.error();
            for (const auto& id : moved.value()) report.moved.push_back(queue::FailedMessage{tenant, {}, id, 0, false, 0});
        }
    }
    co_return report;
}

}  // namespace wappa::service
