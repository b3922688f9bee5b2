#include "wappa/config/redis_url.hpp"

#include <charconv>

#include "wappa/config/units.hpp"

namespace wappa::config {

Result<RedisEndpoint> parse_redis_url(std::string_view url) {
    const std::string text(url);
    RedisEndpoint out;
    constexpr std::string_view plain = "redis://", tls = "rediss://", cluster = "redis+cluster://";
    if (url.starts_with(plain)) {
        url.remove_prefix(plain.size());
    } else if (url.starts_with(tls)) {
        url.remove_prefix(tls.size());
        out.tls = true;
    } else if (url.starts_with(cluster)) {
        return Error{"'" + mask_url_password(text) + "': Redis Cluster (redis+cluster://) is not supported yet; "
                     "use one Redis (redis:// or rediss://)"};
    } else {
        return Error{"'" + mask_url_password(text) + "' is not a redis:// or rediss:// URL"};
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
    if (url.empty()) return Error{"the redis URL has no host"};
    const bool has_port = url.front() == '[' ? url.find("]:") != std::string_view::npos
                                             : url.find(':') != std::string_view::npos;
    if (has_port) {
        auto address = parse_address(url);
        if (!address) return Error{"bad host:port in the redis URL: " + address.error().message};
        out.host = address->host;
        out.port = address->port;
    } else {
        out.host = std::string(url.front() == '[' ? url.substr(1, url.size() - 2) : url);
    }
    if (out.host.empty()) return Error{"the redis URL has no host"};
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
