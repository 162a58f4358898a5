// SPDX-License-Identifier: LGPL-2.1-or-later
//
// RetransmissionBudget: which of one viewer's retransmission requests
// (RTCP NACK) the sender answers. A pure class (no GStreamer, no clock of
// its own: every call passes the time), so that tests drive it.
//
// webrtcbin's rtprtxsend answers every request for a packet among the last
// 500 it sent, as often as it comes. Behind a link that is full, what is
// lost is asked for again and again (Chromium asks up to 10 times, once per
// round trip as *it* measures it, ~20 ms before the queue built), the
// copies fill the link further, more is lost: behind 500 kbit/s the sender
// put out 7.7 Mbit/s of retransmissions and 93% was lost. As in libwebrtc
// (its packet history and retransmission rate limiter), a request is
// answered only when
//  - it was not resent within the last half round trip (the round trip
//    as measured from TWCC feedback, which includes the receiver's wait
//    before it reports: ~50 ms on a 40 ms path, longer than rtpjitterbuffer
//    waits before it asks again; libwebrtc, whose round trip comes from
//    RTCP, waits a whole one): an earlier copy may still be on its way;
//  - it is not older than max(1 s, 3 round trips): the receiver cannot use
//    it any more, or will ask again if it can;
//  - and the retransmissions of the last second, with it, stay within half
//    of the viewer's bandwidth estimate (kShare; 10% random loss each way
//    took up to 24% in a second, its losses come in bursts): they travel
//    the same link as the media, whose encoder is given the estimate minus
//    what retransmissions use (sink-congestion.cpp), so that the two
//    together fit it. (libwebrtc lets them use up to the whole estimate,
//    behind a pacer that rtcstreamsink does not have.)
// The rest are dropped (the receiver asks again, or gives the frame up and
// asks for a keyframe). One budget per viewer: one viewer's losses never
// cost another's stream anything.
//
// Not thread-safe: the owner serialises calls.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace rtcstream {

// How long a sent packet is worth resending: max(1 s, 3 round trips); the
// receiver cannot use it later. One rule for what webrtcbin keeps
// (WebrtcSession) and what a viewer may ask for (RetransmissionBudget).
// rtt_ms < 0: not known yet (1 s).
int64_t retransmission_horizon_us (double rtt_ms);

class RetransmissionBudget {
public:
  // Retransmissions may use this share of the estimate (over any second).
  static constexpr double kShare = 0.5;
  // A packet is resent at most once per this share of the round trip.
  static constexpr double kResendRtt = 0.5;
  // Until a round trip is known.
  static constexpr double kDefaultRttMs = 100;
  // Bytes an RTX packet adds to what it repairs (its original sequence number).
  static constexpr uint32_t kRtxHeaderBytes = 2;

  enum class Verdict { Send, Unknown, TooOld, TooSoon, OverBudget };

  // The viewer's bandwidth estimate (bit/s) and round trip (ms, < 0 unknown).
  void set_link (uint32_t estimate_bps, double rtt_ms);

  // A media packet went out for the first time (bytes: on the wire).
  void on_sent (uint32_t ssrc, uint16_t seq, uint32_t bytes, int64_t now_us);

  // The viewer asks for packet seq of ssrc: whether to resend it. A Send
  // counts as sent now, against the budget.
  Verdict on_request (uint32_t ssrc, uint16_t seq, int64_t now_us);

  // What the answered requests put on the wire over the last second.
  uint32_t bps (int64_t now_us);

  // A packet sent, as recorded.
  struct Packet {
    uint32_t ssrc = 0;
    uint16_t seq = 0;
    uint32_t bytes = 0;
  };
  // Up to n of the largest packets first sent within the last max_age_us,
  // newest first among equals: what a probe (probe.h) may ask rtprtxsend
  // to copy. Reads only: neither the budget nor its counters change.
  std::vector<Packet> recent (int64_t now_us, int64_t max_age_us, size_t n) const;

  uint64_t requests () const { return requests_; }
  uint64_t resent () const { return resent_; }
  uint64_t dropped () const { return requests_ - resent_; }

private:
  struct Slot {
    uint32_t ssrc = 0;
    uint16_t seq = 0;
    bool used = false;
    uint32_t bytes = 0;
    int64_t sent_us = 0;  // first sent, or last resent
    int64_t first_us = 0;
  };
  // Enough for the last ~second at 20 Mbit/s (rtprtxsend keeps 500).
  static constexpr size_t kSlots = 2048;

  void forget_before (int64_t now_us);

  std::array<Slot, kSlots> slots_ {};
  std::deque<std::pair<int64_t, uint32_t>> window_;  // resent: when, bytes
  uint64_t window_bytes_ = 0;
  uint32_t estimate_bps_ = 0;
  double rtt_ms_ = -1;
  uint64_t requests_ = 0, resent_ = 0;
};

const char *verdict_name (RetransmissionBudget::Verdict v);

}  // namespace rtcstream
