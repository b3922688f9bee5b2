#include "wappa/queue/outbound/record.hpp"

#include <charconv>
#include <vector>

namespace wappa::queue {
namespace {

std::vector<std::string_view> split(std::string_view text, std::size_t max_parts) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (parts.size() + 1 < max_parts) {
        const auto at = text.find(record_separator, start);
        if (at == std::string_view::npos) break;
        parts.push_back(text.substr(start, at - start));
        start = at + 1;
    }
    parts.push_back(text.substr(start));
    return parts;
}

std::int64_t number(std::string_view text) {
    double value = 0;   // the scripts may write fractional times
    std::from_chars(text.data(), text.data() + text.size(), value);
    return static_cast<std::int64_t>(value);
}

void append_number(std::string& out, std::int64_t value) {
    if (value != 0) out += std::to_string(value);
}

}  // namespace

std::optional<JobRecord> parse_job_record(std::string_view text) {
    const auto parts = split(text, 6);
    if (parts.size() != 6) return std::nullopt;
    return JobRecord{number(parts[0]), number(parts[1]), std::string(parts[2]), std::string(parts[3]),
                     std::string(parts[4]), std::string(parts[5])};
}

StateRecord parse_state_record(std::string_view text) {
    auto parts = split(text, state_fields.size());
    parts.resize(state_fields.size());
    StateRecord s;
    s.status = std::string(parts[0]);
    s.attempts = number(parts[1]);
    s.deferrals = number(parts[2]);
    s.updated_at = number(parts[3]);
    s.token = std::string(parts[4]);
    s.wamid = std::string(parts[5]);
    s.sent_at = number(parts[6]);
    s.delivered_at = number(parts[7]);
    s.read_at = number(parts[8]);
    s.code = std::string(parts[9]);
    s.error = std::string(parts[10]);
    s.unknown = parts[11] == "1";
    return s;
}

std::string format_state_record(const StateRecord& s) {
    std::string out = s.status;
    const auto field = [&out](const std::string& value) { out.append(1, record_separator).append(value); };
    const auto time = [&out](std::int64_t value) {
        out += record_separator;
        append_number(out, value);
    };
    out += record_separator;
    out += std::to_string(s.attempts);
    out += record_separator;
    out += std::to_string(s.deferrals);
    time(s.updated_at);
    field(s.token);
    field(s.wamid);
    time(s.sent_at);
    time(s.delivered_at);
    time(s.read_at);
    field(s.code);
    field(s.error);
    field(s.unknown ? "1" : "");
    return out;
}

std::string record_safe(std::string_view text) {
    std::string out(text);
    for (auto& c : out) {
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    }
    return out;
}

}  // namespace wappa::queue
