// SPDX-License-Identifier: LGPL-2.1-or-later
#include "send-pace.h"

#include <algorithm>
#include <vector>

namespace rtcstream {

void
SendPace::frame (uint64_t now_ns, uint64_t age_ns)
{
  ages_.emplace_back (now_ns, age_ns);
  while (!ages_.empty () && ages_.front ().first + kWindowNs < now_ns)
    ages_.pop_front ();
  std::vector<uint64_t> &v = scratch_;
  v.clear ();
  for (const auto &a : ages_)
    v.push_back (a.second);
  // The 95th percentile: the sample with 95% of the others at or below it.
  const size_t k = std::min (v.size () - 1, (v.size () * 95) / 100);
  std::nth_element (v.begin (), v.begin () + static_cast<std::ptrdiff_t> (k), v.end ());
  hold_ = v[k] + kMarginNs;
}

}  // namespace rtcstream
