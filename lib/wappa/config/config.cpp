#include "wappa/config/config.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "wappa/config/fields.hpp"
#include "wappa/config/redis_url.hpp"

namespace wappa::config {
namespace {

using fields::Kind;

std::string where_of(const std::string& source, const toml::source_region& region) {
    if (region.begin.line == 0) return source;
    return source + ":" + std::to_string(region.begin.line) + ":" + std::to_string(region.begin.column);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string did_you_mean(std::string_view unknown, const std::vector<std::string>& known) {
    std::string best;
    std::size_t best_distance = std::string::npos;
    for (const auto& k : known) {
        const auto d = edit_distance(unknown, k);
        if (d < best_distance) best_distance = d, best = k;
    }
    if (best.empty() || best_distance > std::max<std::size_t>(2, unknown.size() / 3)) return {};
    return " (did you mean '" + best + "'?)";
}

// Reads "env:NAME" and "file:PATH" indirections so secrets need not sit in the file.
Result<std::string> resolve_indirection(std::string value) {
    if (value.starts_with("env:")) {
        const auto name = value.substr(4);
        const char* env = std::getenv(name.c_str());
        if (env == nullptr) return Error{"environment variable " + name + " (named by \"env:" + name + "\") is not set"};
        return std::string(env);
    }
    if (value.starts_with("file:")) {
        const auto path = value.substr(5);
        std::ifstream in(path, std::ios::binary);
        if (!in) return Error{"cannot read secret file " + path + " (named by \"file:" + path + "\")"};
        std::stringstream buffer;
        buffer << in.rdbuf();
        auto content = buffer.str();
        while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) content.pop_back();
        return content;
    }
    return value;
}

// Assigning one value, from TOML or from an environment string, per field type.
Status assign_text(std::string& out, std::string_view text) {
    auto resolved = resolve_indirection(std::string(text));
    if (!resolved) return resolved.error();
    out = std::move(resolved).value();
    return {};
}
Status assign_text(bool& out, std::string_view text) {
    if (text == "true" || text == "1" || text == "yes") return out = true, Status{};
    if (text == "false" || text == "0" || text == "no") return out = false, Status{};
    return Error{"'" + std::string(text) + "' is not a boolean (true or false)"};
}
Status assign_text(std::int64_t& out, std::string_view text) {
    std::int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty()) {
        return Error{"'" + std::string(text) + "' is not a whole number"};
    }
    out = v;
    return {};
}
Status assign_text(double& out, std::string_view text) {
    const std::string copy(text);
    char* end = nullptr;
    const double v = std::strtod(copy.c_str(), &end);
    if (copy.empty() || end != copy.c_str() + copy.size()) return Error{"'" + copy + "' is not a number"};
    out = v;
    return {};
}
template <class T, class Parse>
Status assign_parsed(T& out, std::string_view text, Parse parse) {
    auto parsed = parse(text);
    if (!parsed) return parsed.error();
    out = parsed.value();
    return {};
}
Status assign_text(Duration& out, std::string_view text) { return assign_parsed(out, text, parse_duration); }
Status assign_text(Bytes& out, std::string_view text) { return assign_parsed(out, text, parse_size); }
Status assign_text(Rate& out, std::string_view text) { return assign_parsed(out, text, parse_rate); }
template <class T>
Status assign_text(std::optional<T>& out, std::string_view text) {
    T value{};
    auto status = assign_text(value, text);
    if (status) out = value;
    return status;
}

std::string toml_type_name(const toml::node& node) {
    switch (node.type()) {
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a number";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        default: return "a date/time";
    }
}

// Numbers in TOML mean seconds, bytes or messages/second; strings carry a unit.
template <class T>
Status assign_node(T& out, const toml::node& node, const char* expected) {
    if (auto s = node.as_string()) return assign_text(out, s->get());
    if constexpr (std::is_same_v<T, Duration> || std::is_same_v<T, Rate> || std::is_same_v<T, double> ||
                  std::is_same_v<T, std::optional<Rate>>) {
        if (auto i = node.as_integer()) return assign_text(out, std::to_string(i->get()));
        if (auto f = node.as_floating_point()) {
            std::ostringstream text;
            text.precision(17);
            text << f->get();
            return assign_text(out, text.str());
        }
    } else if constexpr (std::is_same_v<T, Bytes> || std::is_same_v<T, std::int64_t> ||
                         std::is_same_v<T, std::optional<std::int64_t>>) {
        if (auto i = node.as_integer()) return assign_text(out, std::to_string(i->get()));
    } else if constexpr (std::is_same_v<T, bool>) {
        if (auto b = node.as_boolean()) return out = b->get(), Status{};
    }
    return Error{"expected " + std::string(expected) + ", found " + toml_type_name(node)};
}

template <class T>
const char* expected_form() {
    if constexpr (std::is_same_v<T, std::string>) return "a string";
    else if constexpr (std::is_same_v<T, bool>) return "a boolean";
    else if constexpr (std::is_same_v<T, Duration>) return "a duration (seconds, or \"250ms\", \"30s\", \"5m\", \"1h\")";
    else if constexpr (std::is_same_v<T, Bytes>) return "a size (bytes, or \"512KiB\", \"1MiB\")";
    else if constexpr (std::is_same_v<T, Rate> || std::is_same_v<T, std::optional<Rate>>) return "a rate (messages per second)";
    else if constexpr (std::is_same_v<T, double>) return "a number";
    else return "a whole number";
}

class Loader {
public:
    explicit Loader(LoadedConfig& out) : out_(out) {}

    void load_table(const toml::table& root) {
        std::vector<std::string> section_names{"tenants"};
        fields::for_each_section(out_.config, [&](const char* name, auto&) { section_names.emplace_back(name); });

        for (auto&& entry : root) {
            const auto& key = entry.first;
            const auto& node = entry.second;   // named, not a structured binding: the lambda captures it (clang 14)
            const std::string name(key.str());
            bool known = false;
            fields::for_each_section(out_.config, [&](const char* section_name, auto& section) {
                if (name != section_name) return;
                known = true;
                if (auto table = node.as_table()) load_section(name, *table, section);
                else problem(node.source(), name, "expected a table [" + name + "], found " + toml_type_name(node));
            });
            if (name == "tenants") {
                known = true;
                load_tenants(node);
            }
            if (!known) problem(key.source(), name, "unknown section or key" + did_you_mean(name, section_names));
        }
    }

    void apply_environment() {
        fields::for_each_section(out_.config, [&](const char* section_name, auto& section) {
            fields::visit(section, [&](const char* key, auto& field, Kind) {
                std::string env_name = "WAPPA_" + upper(section_name) + "_" + upper(key);
                const char* value = std::getenv(env_name.c_str());
                if (value == nullptr) return;
                if (auto status = assign_text(field, value); !status) {
                    out_.problems.push_back({"environment " + env_name, std::string(section_name) + "." + key,
                                             status.error().message});
                }
            });
        });
    }

    void problem(const toml::source_region& region, std::string key, std::string message) {
        out_.problems.push_back({where_of(out_.source, region), std::move(key), std::move(message)});
    }

private:
    static std::string upper(std::string_view s) {
        std::string out(s);
        for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return out;
    }

    template <class Section>
    void load_section(const std::string& prefix, const toml::table& table, Section& section) {
        std::vector<std::string> keys;
        fields::visit(section, [&](const char* key, auto&, Kind) { keys.emplace_back(key); });
        for (auto&& entry : table) {
            const auto& key = entry.first;
            const auto& node = entry.second;   // named, not a structured binding: the lambda captures it (clang 14)
            const std::string name(key.str());
            bool known = false;
            fields::visit(section, [&](const char* field_key, auto& field, Kind) {
                if (name != field_key) return;
                known = true;
                using T = std::remove_reference_t<decltype(field)>;
                if (auto status = assign_node(field, node, expected_form<T>()); !status) {
                    problem(node.source(), prefix + "." + name, status.error().message);
                }
            });
            if (!known) problem(key.source(), prefix + "." + name, "unknown key" + did_you_mean(name, keys));
        }
    }

    void load_tenants(const toml::node& node) {
        auto array = node.as_array();
        if (array == nullptr || !array->is_array_of_tables()) {
            problem(node.source(), "tenants", "expected [[tenants]] tables");
            return;
        }
        for (std::size_t i = 0; i < array->size(); ++i) {
            TenantSettings tenant;
            const auto& table = *array->get(i)->as_table();
            load_section("tenants[" + std::to_string(i) + "]", table, tenant);
            tenant_regions_.push_back(table.source());
            out_.config.tenants.push_back(std::move(tenant));
        }
    }

    LoadedConfig& out_;

public:
    std::vector<toml::source_region> tenant_regions_;
};

bool is_identifier(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    });
}

bool is_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void validate(LoadedConfig& out, const std::vector<toml::source_region>& tenant_regions) {
    auto& c = out.config;
    const auto add = [&](std::string key, std::string message, std::string where = {}) {
        out.problems.push_back({where.empty() ? out.source : where, std::move(key), std::move(message)});
    };
    if (auto a = parse_address(c.server.listen); !a) add("server.listen", a.error().message);
    if (c.server.body_limit.value == 0) add("server.body_limit", "must be greater than 0");
    if (c.server.threads < 0 || c.server.threads > 256) add("server.threads", "must be between 0 (one per core) and 256");
    if (c.server.read_timeout.count() <= 0) add("server.read_timeout", "must be greater than 0");
    if (c.server.write_timeout.count() <= 0) add("server.write_timeout", "must be greater than 0");
    if (c.server.dedup_ttl.count() < 1000) add("server.dedup_ttl", "must be at least 1s");
    if (auto u = parse_redis_url(c.redis.url); !u) add("redis.url", u.error().message);
    if (c.redis.key_prefix.empty() || c.redis.key_prefix.find_first_of("{}: ") != std::string::npos) {
        add("redis.key_prefix", "must be non-empty without '{', '}', ':' or spaces");
    }
    if (c.redis.pool_size < 1 || c.redis.pool_size > 64) add("redis.pool_size", "must be between 1 and 64");
    if (c.redis.connect_timeout.count() <= 0) add("redis.connect_timeout", "must be greater than 0");
    if (c.redis.command_timeout.count() <= 0) add("redis.command_timeout", "must be greater than 0");
    for (const auto& [key, path] : {std::pair{"redis.tls_ca_file", &c.redis.tls_ca_file},
                                    std::pair{"redis.tls_cert_file", &c.redis.tls_cert_file},
                                    std::pair{"redis.tls_key_file", &c.redis.tls_key_file}}) {
        if (!path->empty() && !std::filesystem::exists(*path)) add(key, "'" + *path + "' does not exist");
    }
    if (c.redis.tls_cert_file.empty() != c.redis.tls_key_file.empty()) {
        add(c.redis.tls_cert_file.empty() ? "redis.tls_cert_file" : "redis.tls_key_file",
            "a client certificate needs both redis.tls_cert_file and redis.tls_key_file");
    }
    if (!c.postgres.url.empty() && !c.postgres.url.starts_with("postgres://") &&
        !c.postgres.url.starts_with("postgresql://") && c.postgres.url.find('=') == std::string::npos) {
        add("postgres.url", "expected a postgresql:// URL or a key=value connection string");
    }
    if (c.postgres.pool_size < 1) add("postgres.pool_size", "must be at least 1");
    if (c.graph.base_url != "sandbox" && !c.graph.base_url.starts_with("https://") &&
        !c.graph.base_url.starts_with("http://127.") && !c.graph.base_url.starts_with("http://localhost") &&
        !c.graph.base_url.starts_with("http://[::1]")) {
        add("graph.base_url", "must be \"sandbox\", an https:// URL, or an http:// URL on loopback (tests)");
    }
    if (c.graph.max_connections < 1) add("graph.max_connections", "must be at least 1");
    if (!c.graph.ca_file.empty() && !std::filesystem::exists(c.graph.ca_file)) {
        add("graph.ca_file", "'" + c.graph.ca_file + "' does not exist");
    }
    if (c.graph.sandbox_error_rate < 0 || c.graph.sandbox_error_rate > 1) add("graph.sandbox_error_rate", "must be between 0 and 1");
    if (c.pubsub.event_log_max_len < 0) add("pubsub.event_log_max_len", "must be 0 (no event log) or more");
    if (c.pubsub.client_queue_limit < 1) add("pubsub.client_queue_limit", "must be at least 1");
    if (c.pubsub.client_ping_interval.count() < 100) add("pubsub.client_ping_interval", "must be at least 100ms");
    if (c.outbound.max_attempts < 1) add("outbound.max_attempts", "must be at least 1");
    if (c.outbound.failed_max < 1) add("outbound.failed_max", "must be at least 1");
    if (c.outbound.burst_per_recipient < 1) add("outbound.burst_per_recipient", "must be at least 1");
    if (c.outbound.pause_probe.count() < 1000) add("outbound.pause_probe", "must be at least 1s");
    if (c.outbound.cooldown_base.count() <= 0) add("outbound.cooldown_base", "must be greater than 0");
    if (c.outbound.cooldown_max < c.outbound.cooldown_base) add("outbound.cooldown_max", "must be at least outbound.cooldown_base");
    if (c.outbound.backoff_base.count() <= 0) add("outbound.backoff_base", "must be greater than 0");
    if (c.outbound.backoff_max < c.outbound.backoff_base) add("outbound.backoff_max", "must be at least outbound.backoff_base");
    if (c.outbound.on_ambiguous != "fail" && c.outbound.on_ambiguous != "retry") {
        add("outbound.on_ambiguous", "must be \"fail\" or \"retry\", not \"" + c.outbound.on_ambiguous + "\"");
    }
    if (c.inbound.consumer_group.empty()) add("inbound.consumer_group", "must not be empty");
    if (c.inbound.batch < 1 || c.inbound.batch > 10'000) add("inbound.batch", "must be between 1 and 10000");
    if (c.inbound.claim_idle.count() < 1'000) add("inbound.claim_idle", "must be at least 1s");
    if (c.inbound.max_deliveries < 1) add("inbound.max_deliveries", "must be at least 1");
    if (c.inbound.failed_max < 1) add("inbound.failed_max", "must be at least 1");
    if (c.inbound.stream_max_len < 0) add("inbound.stream_max_len", "must be 0 (no cap) or more");
    if (c.inbound.conversation_ttl.count() < 1'000) add("inbound.conversation_ttl", "must be at least 1s");
    if (c.bot.mode != "none" && c.bot.mode != "echo") {
        add("bot.mode", "must be \"none\" or \"echo\", not \"" + c.bot.mode + "\"");
    }
    std::set<std::string> ids;
    std::set<std::string> numbers;
    for (std::size_t i = 0; i < c.tenants.size(); ++i) {
        const auto& t = c.tenants[i];
        const auto where = i < tenant_regions.size() ? where_of(out.source, tenant_regions[i]) : out.source;
        const auto key = "tenants[" + std::to_string(i) + "]";
        if (!is_identifier(t.id)) add(key + ".id", "required: letters, digits, '_', '-' or '.'", where);
        else if (!ids.insert(t.id).second) add(key + ".id", "duplicate tenant id '" + t.id + "'", where);
        if (!is_digits(t.phone_number_id)) add(key + ".phone_number_id", "required: the digits of Meta's phone_number_id", where);
        else if (!numbers.insert(t.phone_number_id).second) {
            add(key + ".phone_number_id", "phone_number_id " + t.phone_number_id + " belongs to another tenant", where);
        }
    }
}

// A TOML basic string: `config show` must print what loads again (found by fuzz_config), so
// control characters are escaped too, not only quotes and backslashes.
std::string quote(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20 || byte == 0x7f) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04X", byte);
            out += escaped;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string render_value(const std::string& v, Kind kind, std::string_view key) {
    if (kind == Kind::secret && !v.empty()) {
        if (key == "url") return quote(mask_url_password(v));
        return quote("********");
    }
    return quote(v);
}
std::string render_value(bool v, Kind, std::string_view) { return v ? "true" : "false"; }
std::string render_value(std::int64_t v, Kind, std::string_view) { return std::to_string(v); }
std::string render_value(Duration v, Kind, std::string_view) { return quote(format_duration(v)); }
std::string render_value(Bytes v, Kind, std::string_view) { return quote(format_size(v)); }
std::string render_value(Rate v, Kind, std::string_view) { return format_rate(v); }
std::string render_value(double v, Kind, std::string_view) {
    std::ostringstream text;
    text << v;
    return text.str();
}

template <class Section>
void render_section(std::ostringstream& out, Section& section) {
    fields::visit(section, [&](const char* key, auto& field, Kind kind) {
        using T = std::remove_cvref_t<decltype(field)>;
        if constexpr (std::is_same_v<T, std::optional<Rate>> || std::is_same_v<T, std::optional<std::int64_t>>) {
            if (field) out << key << " = " << render_value(*field, kind, key) << "\n";
        } else {
            out << key << " = " << render_value(field, kind, key) << "\n";
        }
    });
}

// `loader` writes into `out`: both must be the same object.
void finish(LoadedConfig& out, Loader& loader) {
    loader.apply_environment();
    validate(out, loader.tenant_regions_);
}

}  // namespace

const TenantSettings* Config::find_tenant(std::string_view id) const {
    for (const auto& t : tenants) {
        if (t.id == id) return &t;
    }
    return nullptr;
}

const TenantSettings* Config::find_tenant_by_number(std::string_view phone_number_id) const {
    for (const auto& t : tenants) {
        if (t.phone_number_id == phone_number_id) return &t;
    }
    return nullptr;
}

LoadedConfig load_config_text(std::string_view toml_text, std::string source_name) {
    LoadedConfig out;
    out.source = std::move(source_name);
    Loader loader(out);
    try {
        const auto table = toml::parse(toml_text, out.source);
        loader.load_table(table);
    } catch (const toml::parse_error& e) {
        loader.problem(e.source(), "", "TOML syntax error: " + std::string(e.description()));
        return out;
    }
    finish(out, loader);
    return out;
}

LoadedConfig load_config(const std::optional<std::string>& explicit_path) {
    std::optional<std::string> path = explicit_path;
    if (!path) {
        for (const char* candidate : {"./wappa.toml", "/etc/wappa/wappa.toml"}) {
            std::error_code ec;
            if (std::filesystem::exists(candidate, ec)) {
                path = candidate;
                break;
            }
        }
    }
    if (!path) {
        LoadedConfig out;
        out.source = "(built-in defaults)";
        Loader loader(out);
        finish(out, loader);
        return out;
    }
    std::ifstream in(*path, std::ios::binary);
    if (!in) {
        LoadedConfig out;
        out.source = *path;
        out.problems.push_back({*path, "", "cannot read the config file: " + std::string(std::strerror(errno))});
        return out;
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    return load_config_text(buffer.str(), *path);
}

std::string render_config(const Config& config) {
    Config copy = config;
    std::ostringstream out;
    bool first = true;
    fields::for_each_section(copy, [&](const char* name, auto& section) {
        out << (first ? "" : "\n") << "[" << name << "]\n";
        first = false;
        render_section(out, section);
    });
    for (auto& tenant : copy.tenants) {
        out << "\n[[tenants]]\n";
        render_section(out, tenant);
    }
    return out.str();
}

std::string format_problem(const Problem& p) {
    std::string out = p.where + ": ";
    if (!p.key.empty()) out += p.key + ": ";
    return out + p.message;
}

}  // namespace wappa::config
