#pragma once
// Redis Cluster's key space: 16384 hash slots, a key's slot being CRC16 of its hash tag (the
// part between the first '{' and the next '}', when not empty) or of the whole key.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace wappa::redis {

inline constexpr std::uint16_t slot_count = 16384;

std::uint16_t key_slot(std::string_view key);

// Where a command goes on a cluster, from its name and arguments (Command::arguments()).
struct CommandRoute {
    enum class Kind { any_node, slot, several_slots } kind = Kind::any_node;
    std::uint16_t slot = 0;   // Kind::slot: every key's slot; several_slots: the first key's
};
CommandRoute route_of(const std::vector<std::string_view>& arguments);

// XREAD / XREADGROUP over streams in several slots, split into one command per slot (a cluster
// refuses keys of different slots in one command). `blocking` when it has BLOCK.
struct StreamReadSplit {
    std::vector<std::vector<std::string_view>> parts;   // the arguments of each per-slot command
    bool blocking = false;
};
std::optional<StreamReadSplit> split_stream_read(const std::vector<std::string_view>& arguments);

}  // namespace wappa::redis
