#include "wappa/redis/slot.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <string>

namespace wappa::redis {
namespace {

// CRC16-CCITT (XMODEM), as Redis Cluster specifies it.
std::uint16_t crc16(std::string_view data) {
    std::uint16_t crc = 0;
    for (unsigned char byte : data) {
        crc ^= static_cast<std::uint16_t>(byte << 8);
        for (int bit = 0; bit < 8; ++bit) crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021) : static_cast<std::uint16_t>(crc << 1);
    }
    return crc;
}

std::string upper(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

// The index of STREAMS in an XREAD / XREADGROUP, or 0.
std::size_t streams_at(const std::vector<std::string_view>& a) {
    for (std::size_t i = 1; i < a.size(); ++i) {
        if (upper(a[i]) == "STREAMS") return i;
    }
    return 0;
}

}  // namespace

std::uint16_t key_slot(std::string_view key) {
    if (const auto open = key.find('{'); open != std::string_view::npos) {
        const auto close = key.find('}', open + 1);
        if (close != std::string_view::npos && close > open + 1) key = key.substr(open + 1, close - open - 1);
    }
    return static_cast<std::uint16_t>(crc16(key) % slot_count);
}

CommandRoute route_of(const std::vector<std::string_view>& a) {
    if (a.empty()) return {};
    const auto name = upper(a[0]);
    std::vector<std::string_view> keys;
    if (name == "EVAL" || name == "EVALSHA") {
        const auto count = a.size() > 2 ? static_cast<std::size_t>(std::atoll(std::string(a[2]).c_str())) : 0;
        for (std::size_t i = 3; i < a.size() && i < 3 + count; ++i) keys.push_back(a[i]);
    } else if (name == "XREAD" || name == "XREADGROUP") {
        const auto at = streams_at(a);
        const auto streams = at ? (a.size() - at - 1) / 2 : 0;
        for (std::size_t i = 0; i < streams; ++i) keys.push_back(a[at + 1 + i]);
    } else if (name == "XGROUP" || name == "XINFO" || name == "OBJECT") {
        if (a.size() > 2) keys.push_back(a[2]);
    } else if (name == "DEL" || name == "UNLINK" || name == "EXISTS" || name == "MGET" || name == "TOUCH") {
        keys.assign(a.begin() + 1, a.end());
    } else if (name == "PING" || name == "TIME" || name == "PUBLISH" || name == "SCAN" || name == "INFO" || name == "CLUSTER" ||
               name == "CLIENT" || name == "SCRIPT" || name == "DBSIZE" || name == "ECHO" || name == "CONFIG" || name == "ASKING") {
        return {};
    } else if (a.size() > 1) {
        keys.push_back(a[1]);
    }
    if (keys.empty()) return {};
    CommandRoute route{CommandRoute::Kind::slot, key_slot(keys.front())};
    for (const auto& k : keys) {
        if (key_slot(k) != route.slot) route.kind = CommandRoute::Kind::several_slots;
    }
    return route;
}

std::optional<StreamReadSplit> split_stream_read(const std::vector<std::string_view>& a) {
    if (a.empty()) return std::nullopt;
    const auto name = upper(a[0]);
    if (name != "XREAD" && name != "XREADGROUP") return std::nullopt;
    const auto at = streams_at(a);
    if (!at || (a.size() - at - 1) % 2 != 0) return std::nullopt;
    const auto streams = (a.size() - at - 1) / 2;
    StreamReadSplit split;
    for (std::size_t i = 1; i < at; ++i) {
        if (upper(a[i]) == "BLOCK") split.blocking = true;
    }
    std::map<std::uint16_t, std::vector<std::size_t>> by_slot;
    for (std::size_t i = 0; i < streams; ++i) by_slot[key_slot(a[at + 1 + i])].push_back(i);
    for (const auto& [slot, streams_here] : by_slot) {
        std::vector<std::string_view> part(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(at) + 1);
        for (auto i : streams_here) part.push_back(a[at + 1 + i]);
        for (auto i : streams_here) part.push_back(a[at + 1 + streams + i]);
        split.parts.push_back(std::move(part));
    }
    return split;
}

}  // namespace wappa::redis
