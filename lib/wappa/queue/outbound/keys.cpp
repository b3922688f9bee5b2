#include "wappa/queue/outbound/keys.hpp"

namespace wappa::queue {

OutboundKeys::OutboundKeys(std::string_view prefix, std::string_view tenant)
    : base(std::string(prefix) + ":{" + std::string(tenant) + "}:out:"),
      jobs(base + "jobs"),
      state(base + "state"),
      hist(base + "hist"),
      counts(base + "counts"),
      lanes(base + "lanes"),
      numbers(base + "numbers"),
      rate(base + "rate"),
      inflight(base + "inflight"),
      unknown(base + "unknown"),
      failed(base + "failed"),
      done(base + "done"),
      wamids(base + "wamids"),
      paused(base + "paused"),
      cool(base + "cool"),
      paircool(base + "paircool"),
      pairs_even(base + "pairs:0"),
      pairs_odd(base + "pairs:1"),
      pairs_long(base + "pairs:long"),
      pairs_until(base + "pairs:until"),
      repair(base + "repair") {}

std::string OutboundKeys::fifo(std::string_view sender) const { return base + "fifo:" + std::string(sender); }
std::string OutboundKeys::ready(std::string_view sender) const { return base + "ready:" + std::string(sender); }

std::string wake_channel(std::string_view prefix) { return std::string(prefix) + ":out:wake"; }
std::string global_rate_key(std::string_view prefix) { return std::string(prefix) + ":{global}:out:rate"; }

}  // namespace wappa::queue
