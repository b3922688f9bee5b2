#include "wappa/log/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <chrono>
#include <ctime>

#include "wappa/core/json.hpp"

namespace wappa::log {
namespace {

bool is_field_name(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (!(std::islower(static_cast<unsigned char>(c)) || c == '_' || std::isdigit(static_cast<unsigned char>(c)))) return false;
    }
    return true;
}

class JsonFormatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const auto time = std::chrono::system_clock::to_time_t(msg.time);
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count() % 1000;
        std::tm tm{};
        gmtime_r(&time, &tm);
        char stamp[40];
        const auto n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(ms));
        const auto level = spdlog::level::to_string_view(msg.level);
        const auto line = json_line(stamp, std::string_view(level.data(), level.size()),
                                    std::string_view(msg.logger_name.data(), msg.logger_name.size()),
                                    std::string_view(msg.payload.data(), msg.payload.size()));
        dest.append(line.data(), line.data() + line.size());
        dest.push_back('\n');
    }
    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

std::string json_line(std::string_view timestamp, std::string_view level, std::string_view logger,
                      std::string_view message) {
    std::string out = "{\"timestamp\":";
    json::append_string(out, timestamp);
    out += ",\"level\":";
    json::append_string(out, level);
    out += ",\"logger\":";
    json::append_string(out, logger.empty() ? "wappa" : logger);
    out += ",\"message\":";
    json::append_string(out, message);
    // key=value words after the first one become fields; values run to the next space.
    std::string fields;
    std::size_t pos = message.find(' ');
    while (pos != std::string_view::npos) {
        const auto start = pos + 1;
        const auto end = message.find(' ', start);
        const auto word = message.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        const auto eq = word.find('=');
        if (eq != std::string_view::npos && is_field_name(word.substr(0, eq))) {
            fields += fields.empty() ? "" : ",";
            json::append_string(fields, word.substr(0, eq));
            fields += ':';
            json::append_string(fields, word.substr(eq + 1));
        }
        pos = end;
    }
    out += ",\"fields\":{" + fields + "}}";
    return out;
}

Status setup(const Settings& settings) {
    const auto level = spdlog::level::from_str(settings.level);
    if (level == spdlog::level::off && settings.level != "off") {
        return Error{"unknown log level '" + settings.level + "' (use trace, debug, info, warn or error)"};
    }
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>("wappa", sink);
    if (settings.format == Format::json) {
        logger->set_formatter(std::make_unique<JsonFormatter>());
    } else {
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
    }
    logger->set_level(level);
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(logger);
    return {};
}

}  // namespace wappa::log
