#pragma once
// sysexits(3) codes promised by INTERFACE.md §1.
namespace wappa::exit_code {
inline constexpr int ok = 0;
inline constexpr int failure = 1;
inline constexpr int usage = 64;
inline constexpr int data_error = 65;
inline constexpr int unavailable = 69;
inline constexpr int config = 78;
}  // namespace wappa::exit_code
