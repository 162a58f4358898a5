// SPDX-License-Identifier: LGPL-2.1-or-later
//
// SendPace: how long after its capture a session lets a live frame go out.
// A pure class (no GStreamer; the caller passes the times), so that tests
// can drive it.
//
// webrtcbin (1.22) puts a clocksync (sync=true) on each stream it sends,
// which holds every buffer until its running time plus the upstream
// latency: with a live source that is at least a frame (33 ms at 30 fps)
// whatever the encoder took, so a picture encoded in 10 ms waited ~22 ms
// more before its first packet left (netsim's g2g bench: Chromium received
// frames 35 ms after capture where the payloader had them out at 11-13).
// Sending each frame the moment it is ready is no better for a receiver
// that plays out on a jitter estimate: the encoder's own timing (8-30 ms a
// frame on a busy machine) then reaches it as jitter, and its playout
// delay rises by as much (element-loopback's adaptive delay read a 30 ms
// median target under load, b5a1ef2).
//
// So the hold follows what the frames need: the 95th percentile of their
// ages when they reach the clocksync (capture to payloaded, in the
// producer), over the last 2 s, plus 1 ms. Frames then leave at a steady
// age, the encoder's spread is absorbed where it is made, and the wait
// is as short as the encoder allows, never longer than the latency
// webrtcbin would have waited (the caller clamps to it).
#pragma once

#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

namespace rtcstream {

class SendPace {
 public:
  static constexpr uint64_t kWindowNs = 2000000000;  // 2 s
  static constexpr uint64_t kMarginNs = 1000000;     // 1 ms

  // A frame seen at now_ns (any monotonic clock), age_ns after its capture.
  void frame (uint64_t now_ns, uint64_t age_ns);
  // How long after capture frames should leave; 0 before the first frame.
  uint64_t hold () const { return hold_; }

 private:
  std::deque<std::pair<uint64_t, uint64_t>> ages_;  // (seen, age)
  std::vector<uint64_t> scratch_;  // the ages, for the percentile (kept: no allocation a frame)
  uint64_t hold_ = 0;
};

}  // namespace rtcstream
