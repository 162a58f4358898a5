// SPDX-License-Identifier: LGPL-2.1-or-later
#include "ladder.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace rtcstream {

namespace {

constexpr int kMaxDivisor = 16;
constexpr int kMinWidth = 160;
constexpr double kFit = 0.8;
constexpr unsigned kDownWindow = 3;   // updates in which congestion counts
constexpr unsigned kUpQuiet = 3;      // quiet updates before an estimated step up
constexpr unsigned kProbeQuiet = 5;   // quiet updates before a probe
constexpr int64_t kS = 1000000;
constexpr int64_t kProbeHoldUs = 5 * kS;      // on a rendition before probing above it
constexpr int64_t kProbeFailUs = 10 * kS;     // a step down this soon after a probe: it failed
constexpr int64_t kBackoffUs = 60 * kS, kMaxBackoffUs = 480 * kS;

int
even (double v)
{
  return std::max (2, (int) std::lround (v / 2) * 2);
}

}  // namespace

bool
parse_ladder (const std::string &spec, std::vector<LadderRung> *out, std::string *error)
{
  std::vector<LadderRung> rungs;
  std::string text = spec.empty () ? "1:0,2:0,4:0" : spec;
  size_t at = 0;
  while (at <= text.size ()) {
    size_t end = text.find (',', at);
    if (end == std::string::npos)
      end = text.size ();
    std::string item = text.substr (at, end - at);
    at = end + 1;
    LadderRung r;
    char *rest = nullptr;
    long divisor = std::strtol (item.c_str (), &rest, 10);
    unsigned long long bps = 0;
    bool ok = rest != item.c_str () && divisor >= 1 && divisor <= kMaxDivisor;
    if (ok && *rest == ':') {
      const char *b = rest + 1;
      bps = std::strtoull (b, &rest, 10);
      ok = rest != b && bps <= 0x7fffffffULL;
    }
    ok = ok && *rest == '\0';
    if (ok && rungs.empty () && divisor != 1) {
      *error = "the first rung must be the full picture (divisor 1), not \"" + item + "\"";
      return false;
    }
    if (ok && !rungs.empty () && divisor <= rungs.back ().divisor) {
      *error = "divisors must grow along the ladder: \"" + item + "\" after " +
          std::to_string (rungs.back ().divisor);
      return false;
    }
    if (!ok) {
      *error = "\"" + item + "\" is not DIVISOR[:BITRATE] (a divisor of 1 to " +
          std::to_string (kMaxDivisor) + ", a bitrate in bit/s)";
      return false;
    }
    r.divisor = (int) divisor;
    r.bps = (uint32_t) bps;
    rungs.push_back (r);
  }
  *out = rungs;
  return true;
}

std::vector<Rendition>
make_ladder (const std::vector<LadderRung> &rungs, int width, int height, uint32_t min_bps,
    uint32_t max_bps)
{
  std::vector<Rendition> out;
  uint32_t lo = std::min (min_bps, max_bps);
  for (const LadderRung &r : rungs) {
    Rendition x;
    x.width = r.divisor == 1 ? width : even ((double) width / r.divisor);
    x.height = r.divisor == 1 ? height : even ((double) height / r.divisor);
    if (!out.empty () && x.width < kMinWidth)
      break;
    double bps = r.bps ? r.bps : (double) max_bps / (r.divisor * r.divisor);
    x.bps = (uint32_t) std::clamp<double> (bps, lo, max_bps);
    out.push_back (x);
  }
  return out;
}

RenditionChooser::RenditionChooser (size_t current) : current_ (current), backoff_us_ (kBackoffUs)
{
}

size_t
RenditionChooser::update (const std::vector<uint32_t> &bps, uint32_t share_bps, bool congested,
    uint32_t capacity_share_bps, int64_t now_us)
{
  if (bps.empty ())
    return current_ = 0;
  auto fits = [&] (size_t r, uint32_t have) { return have >= kFit * bps[r]; };
  size_t best = 0;
  while (best + 1 < bps.size () && !fits (best, share_bps))
    best++;
  if (!started_) {
    started_ = true;
    current_ = capacity_share_bps ? best : std::min (current_, bps.size () - 1);
    changed_us_ = last_down_us_ = now_us;  // as if it stepped down here
    return current_;
  }
  current_ = std::min (current_, bps.size () - 1);
  since_congestion_ = congested ? 0 : since_congestion_ + 1;
  quiet_ = congested ? 0 : quiet_ + 1;
  if (best > current_ && since_congestion_ < kDownWindow) {
    if (probing_ && now_us - changed_us_ < kProbeFailUs) {
      if (probe_failed_)
        backoff_us_ = std::min (2 * backoff_us_, kMaxBackoffUs);
      probe_failed_ = true;
    }
    probing_ = false;
    current_ = best;
    changed_us_ = last_down_us_ = now_us;
    return current_;
  }
  if (probing_ && now_us - changed_us_ >= kProbeFailUs) {
    probing_ = false;  // it held
    probe_failed_ = false;
    backoff_us_ = kBackoffUs;
  }
  if (best < current_ && quiet_ >= kUpQuiet) {
    current_ = best;
    changed_us_ = now_us;
    probing_ = false;
    return current_;
  }
  if (current_ > 0 && !probing_ && quiet_ >= kProbeQuiet && now_us - changed_us_ >= kProbeHoldUs &&
      (now_us - last_down_us_ >= backoff_us_ ||
          (!probe_failed_ && (capacity_share_bps == 0 || fits (current_ - 1, capacity_share_bps))))) {
    current_--;
    probing_ = true;
    changed_us_ = now_us;
  }
  return current_;
}

}  // namespace rtcstream
