#include "wappa/config/redis_url.hpp"

#include <charconv>

#include "wappa/config/units.hpp"

namespace wappa::config {

namespace {

Result<std::pair<std::string, std::uint16_t>> host_and_port(std::string_view text) {
    if (text.empty()) return Error{"the redis URL has no host"};
    const bool has_port = text.front() == '[' ? text.find("]:") != std::string_view::npos
                                              : text.find(':') != std::string_view::npos;
    if (!has_port) {
        std::string host(text.front() == '[' ? text.substr(1, text.size() - 2) : text);
        if (host.empty()) return Error{"the redis URL has no host"};
        return std::pair<std::string, std::uint16_t>(std::move(host), std::uint16_t{6379});
    }
    auto address = parse_address(text);
    if (!address) return Error{"bad host:port in the redis URL: " + address.error().message};
    if (address->host.empty()) return Error{"the redis URL has no host"};
    return std::pair<std::string, std::uint16_t>(address->host, address->port);
}

}  // namespace

Result<RedisEndpoint> parse_redis_url(std::string_view url) {
    const std::string text(url);
    RedisEndpoint out;
    constexpr std::string_view plain = "redis://", tls = "rediss://", cluster = "redis+cluster://",
                               tls_cluster = "rediss+cluster://";
    if (url.starts_with(plain)) {
        url.remove_prefix(plain.size());
    } else if (url.starts_with(tls)) {
        url.remove_prefix(tls.size());
        out.tls = true;
    } else if (url.starts_with(cluster)) {
        url.remove_prefix(cluster.size());
        out.cluster = true;
    } else if (url.starts_with(tls_cluster)) {
        url.remove_prefix(tls_cluster.size());
        out.cluster = out.tls = true;
    } else {
        return Error{"'" + mask_url_password(text) + "' is not a redis://, rediss:// or redis+cluster:// URL"};
    }
    if (const auto at = url.rfind('@'); at != std::string_view::npos) {
        const auto credentials = url.substr(0, at);
        url.remove_prefix(at + 1);
        const auto colon = credentials.find(':');
        if (colon == std::string_view::npos) {
            out.password = std::string(credentials);
        } else {
            out.user = std::string(credentials.substr(0, colon));
            out.password = std::string(credentials.substr(colon + 1));
        }
    }
    if (const auto slash = url.find('/'); slash != std::string_view::npos) {
        const auto db = url.substr(slash + 1);
        url = url.substr(0, slash);
        if (!db.empty()) {
            const auto [ptr, ec] = std::from_chars(db.data(), db.data() + db.size(), out.db);
            if (ec != std::errc{} || ptr != db.data() + db.size() || out.db < 0) {
                return Error{"'" + std::string(db) + "' in the redis URL is not a database number"};
            }
        }
    }
    if (out.cluster) {
        if (out.db != 0) return Error{"a Redis Cluster has only database 0, not " + std::to_string(out.db)};
        while (true) {
            const auto comma = url.find(',');
            auto seed = host_and_port(url.substr(0, comma));
            if (!seed) return Error{"seed node " + std::to_string(out.seeds.size() + 1) + ": " + seed.error().message};
            out.seeds.push_back(std::move(*seed));
            if (comma == std::string_view::npos) break;
            url.remove_prefix(comma + 1);
        }
        out.host = out.seeds.front().first;
        out.port = out.seeds.front().second;
        return out;
    }
    auto address = host_and_port(url);
    if (!address) return address.error();
    out.host = std::move(address->first);
    out.port = address->second;
    return out;
}

std::string mask_url_password(std::string_view url) {
    const auto scheme_end = url.find("://");
    const auto at = url.rfind('@');
    if (scheme_end == std::string_view::npos || at == std::string_view::npos || at < scheme_end) return std::string(url);
    const auto credentials_begin = scheme_end + 3;
    const auto colon = url.find(':', credentials_begin);
    const auto secret_begin = (colon != std::string_view::npos && colon < at) ? colon + 1 : credentials_begin;
    return std::string(url.substr(0, secret_begin)) + "****" + std::string(url.substr(at));
}

}  // namespace wappa::config
