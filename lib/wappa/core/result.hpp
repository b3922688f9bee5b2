#pragma once
// A value or an error that says what went wrong and where: the return type of everything
// below the command-line edge, where exceptions are not used.
#include <string>
#include <utility>
#include <variant>

namespace wappa {

struct Error {
    std::string message;
    std::string code = {};    // a machine-readable cause where there is one (PostgreSQL's SQLSTATE...)
    bool transient = false;   // worth trying again as is (a lost connection, a deadlock...)
};

template <class T>
class [[nodiscard]] Result {
public:
    // Needed by Asio (co_spawn with use_future); a default Result holds an error.
    Result() : state_(std::in_place_index<1>, Error{"no result"}) {}
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & { return std::get<0>(state_); }
    const T& value() const& { return std::get<0>(state_); }
    T&& value() && { return std::get<0>(std::move(state_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }

    const Error& error() const { return std::get<1>(state_); }

private:
    std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), failed_(true) {}

    bool ok() const noexcept { return !failed_; }
    explicit operator bool() const noexcept { return ok(); }
    const Error& error() const { return error_; }

private:
    Error error_;
    bool failed_ = false;
};

using Status = Result<void>;

}  // namespace wappa
