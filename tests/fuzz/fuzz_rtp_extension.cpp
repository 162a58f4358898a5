// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target: our RTP header extensions (rtcstream/playout-delay.h,
// rtcstream/abs-capture-time.h) as a depayloader reads them from any peer's
// packets: the wire readers, and the GstRTPHeaderExtension's read vfuncs with
// one-byte and two-byte headers. Whatever the bytes, they read or refuse;
// what they read writes back to the same bytes' values.
#include <gst/gst.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "rtcstream/abs-capture-time.h"
#include "rtcstream/playout-delay.h"

namespace {
GstRTPHeaderExtension *extension = nullptr;
GstRTPHeaderExtension *capture = nullptr;
}

extern "C" int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  gst_init (argc, argv);
  rtcstream_playout_delay_extension_register (nullptr);
  extension = GST_RTP_HEADER_EXTENSION (g_object_ref_sink (
      g_object_new (RTCSTREAM_TYPE_PLAYOUT_DELAY_EXTENSION, nullptr)));
  gst_rtp_header_extension_set_id (extension, rtcstream::kPlayoutDelayExtensionId);
  capture = GST_RTP_HEADER_EXTENSION (g_object_ref_sink (
      g_object_new (RTCSTREAM_TYPE_ABS_CAPTURE_TIME_EXTENSION, nullptr)));
  gst_rtp_header_extension_set_id (capture, rtcstream::kAbsCaptureTimeExtensionId);
  return 0;
}

extern "C" int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  guint min_ms = 0, max_ms = 0;
  const bool ok = rtcstream::read_playout_delay (data, size, &min_ms, &max_ms);
  if (ok != (size >= rtcstream::kPlayoutDelaySize))
    abort ();
  if (ok) {
    if (min_ms > rtcstream::kPlayoutDelayMaxMs || max_ms > rtcstream::kPlayoutDelayMaxMs ||
        min_ms % 10 || max_ms % 10)
      abort ();
    guint8 back[3];
    rtcstream::write_playout_delay (back, min_ms, max_ms);
    guint min2 = 0, max2 = 0;
    if (!rtcstream::read_playout_delay (back, sizeof back, &min2, &max2) || min2 != min_ms ||
        max2 != max_ms)
      abort ();
  }
  GstClockTime t = 0;
  const bool read = rtcstream::read_abs_capture_time (data, size, &t);
  if (read != (size >= rtcstream::kAbsCaptureTimeSize))
    abort ();
  if (read) {
    // Nanoseconds lose nothing of the 32-bit fraction's second: the same
    // seconds, the fraction within one unit.
    guint8 back[8];
    rtcstream::write_abs_capture_time (back, t);
    GstClockTime t2 = 0;
    if (!rtcstream::read_abs_capture_time (back, sizeof back, &t2) || t2 != t ||
        memcmp (back, data, 4) != 0)
      abort ();
  }
  for (GstRTPHeaderExtension *ext : { extension, capture }) {
    GstBuffer *buf = gst_buffer_new ();
    for (GstRTPHeaderExtensionFlags flags : { GST_RTP_HEADER_EXTENSION_ONE_BYTE,
             GST_RTP_HEADER_EXTENSION_TWO_BYTE })
      (void) gst_rtp_header_extension_read (ext, flags, data, size, buf);
    gst_buffer_unref (buf);
  }
  return 0;
}
