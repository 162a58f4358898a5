// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The encoding ladder: renditions of one raw video input (its full picture,
// and smaller ones at lower bitrates) that rtcstreamsink encodes for viewers
// that share one input but not one link, and the choice of a rendition for
// one viewer from its bandwidth estimate. Pure (no GStreamer; the caller
// passes the time), so that tests can drive them.
//
// Not thread-safe: the owner serialises calls (the sink's worker).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rtcstream {

// One rung of the sink's `video-ladder` property: the input's width and
// height divided by `divisor`, encoded at `bps` (0: derived from
// max-bitrate, see make_ladder).
struct LadderRung {
  int divisor = 1;
  uint32_t bps = 0;
};

// Parses "DIVISOR[:BITRATE],..." (divisors 1..16 growing, the first 1;
// bitrates in bit/s). "" is the default ladder, "1:0,2:0,4:0". False with
// *error set when spec is not a ladder.
bool parse_ladder (const std::string &spec, std::vector<LadderRung> *out, std::string *error);

struct Rendition {
  int width = 0, height = 0;
  uint32_t bps = 0;
};

// The renditions of a width x height input: one per rung whose picture is at
// least 160 pixels wide (the first always), its size even, its bitrate the
// rung's or, when 0, max_bps divided by the square of the divisor (the
// pixels' share), all within min_bps..max_bps.
std::vector<Rendition> make_ladder (const std::vector<LadderRung> &rungs, int width, int height,
    uint32_t min_bps, uint32_t max_bps);

// One viewer's rendition (0: the biggest). Once a second it is given the
// video share of the viewer's estimate, whether its link showed congestion
// since the last update (queueing delay, loss, or a rate cut for them), and
// the video share of where the link was last congested (0: unknown).
//   - A rendition fits when the share is at least 80% of its bitrate.
//   - The first update keeps the rendition the viewer is on, unless its
//     link was congested before (the estimate knows it): then it picks the
//     biggest that fits, or the smallest.
//   - Down: once the current rendition no longer fits and the link showed
//     congestion in the last 3 updates. A lagging estimate on a quiet link
//     does not move the viewer: the link carries what it gets.
//   - Up: to a rendition that fits, after 3 quiet updates; or, as a probe,
//     one step up after 5 quiet updates and 5 s on the current one, when
//     the link's last congestion leaves room for it (or is not known) and
//     no probe failed since one held, or else when the last step down is
//     older than the back-off (60 s; a probe that fails within 10 s makes
//     the next ones wait for it, and each further one doubles it, at most
//     8 min). The estimate
//     cannot show room above what the viewer receives (it stays below 1.5
//     times that), so the step up is itself the probe.
class RenditionChooser {
public:
  // current: the rendition the viewer is on.
  explicit RenditionChooser (size_t current = 0);
  // bps: the renditions' bitrates, biggest first.
  size_t update (const std::vector<uint32_t> &bps, uint32_t share_bps, bool congested,
      uint32_t capacity_share_bps, int64_t now_us);
  size_t rendition () const { return current_; }
  bool probing () const { return probing_; }

private:
  bool started_ = false;
  size_t current_ = 0;
  bool probing_ = false, probe_failed_ = false;
  int64_t changed_us_ = 0, last_down_us_ = 0;
  int64_t backoff_us_;
  unsigned quiet_ = 0, since_congestion_ = 1000;
};

}  // namespace rtcstream
