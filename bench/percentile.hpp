#pragma once
// The p-th percentile (0..100) of samples, reordering them; 0 when there are none.
#include <algorithm>
#include <vector>

template <class T>
double percentile(std::vector<T>& v, double p) {
    if (v.empty()) return 0;
    const auto k = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
    return static_cast<double>(v[k]);
}
