#pragma once
// Results and errors of PostgreSQL statements, owned and independent of libpq (which stays in
// this module's .cpp files). Values are in text format.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wappa::pg {

class Rows {
public:
    Rows() = default;
    Rows(std::vector<std::string> columns, std::vector<std::optional<std::string>> cells, std::int64_t affected)
        : columns_(std::move(columns)), cells_(std::move(cells)), affected_(affected) {}

    std::size_t size() const { return columns_.empty() ? 0 : cells_.size() / columns_.size(); }
    bool empty() const { return size() == 0; }
    std::size_t columns() const { return columns_.size(); }
    // The column's index by name; the size of columns() when absent.
    std::size_t column(std::string_view name) const;
    bool null(std::size_t row, std::size_t col) const { return !cells_.at(row * columns_.size() + col).has_value(); }
    // The value as text; empty for NULL.
    std::string_view text(std::size_t row, std::size_t col) const;
    std::string_view text(std::size_t row, std::string_view name) const { return text(row, column(name)); }
    std::int64_t integer(std::size_t row, std::size_t col) const;
    std::int64_t integer(std::size_t row, std::string_view name) const { return integer(row, column(name)); }
    // Rows inserted, updated or deleted by the statement.
    std::int64_t affected() const { return affected_; }

private:
    std::vector<std::string> columns_;
    std::vector<std::optional<std::string>> cells_;
    std::int64_t affected_ = 0;
};

}  // namespace wappa::pg
