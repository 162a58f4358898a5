// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The abs-capture-time RTP header extension (gst/rtcstream/abs-capture-time.*):
// its wire format, and the element the plugin registers, written by a real
// payloader from its input's capture time meta and read back by a real
// depayloader onto its output, both finding it by its URI.
#include <gst/gst.h>
#include <gst/rtp/rtp.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "rtcstream/abs-capture-time.h"
#include "rtcstream/ref.h"

using namespace rtcstream;

namespace {

TEST (AbsCaptureTime, WireFormat)
{
  guint8 data[8];
  // The Unix epoch: 2208988800 s after NTP's, no fraction.
  write_abs_capture_time (data, kNtpUnixOffsetS * GST_SECOND);
  const guint8 epoch[8] = {0x83, 0xaa, 0x7e, 0x80, 0, 0, 0, 0};
  EXPECT_EQ (memcmp (data, epoch, 8), 0);
  // Half a second: the fraction's top bit.
  write_abs_capture_time (data, GST_SECOND / 2);
  const guint8 half[8] = {0, 0, 0, 0, 0x80, 0, 0, 0};
  EXPECT_EQ (memcmp (data, half, 8), 0);
}

TEST (AbsCaptureTime, RoundTripKeepsTheNanosecond)
{
  for (GstClockTime t : std::vector<GstClockTime> {0, 1, GST_SECOND - 1,
           kNtpUnixOffsetS * GST_SECOND + 123456789, ntp_now ()}) {
    guint8 data[8];
    write_abs_capture_time (data, t);
    GstClockTime back = 0;
    ASSERT_TRUE (read_abs_capture_time (data, sizeof data, &back));
    EXPECT_EQ (back, t);
  }
  // The 16-byte form (with a clock offset) reads its first 8.
  guint8 data[16] = {};
  write_abs_capture_time (data, 42 * GST_SECOND);
  GstClockTime back = 0;
  ASSERT_TRUE (read_abs_capture_time (data, sizeof data, &back));
  EXPECT_EQ (back, 42 * GST_SECOND);
}

TEST (AbsCaptureTime, ShortDataIsRefused)
{
  const guint8 data[7] = {1, 2, 3, 4, 5, 6, 7};
  GstClockTime t = 7;
  EXPECT_FALSE (read_abs_capture_time (data, sizeof data, &t));
  EXPECT_EQ (t, 7u);
}

// Found by its URI; written from the input buffer's meta, read onto the
// output buffer; a frame without a capture time gets no extension.
TEST (AbsCaptureTime, WrittenFromTheMetaAndReadOntoTheOutput)
{
  Ref<GstRTPHeaderExtension> ext = Ref<GstRTPHeaderExtension>::adopt (
      gst_rtp_header_extension_create_from_uri (kAbsCaptureTimeExtensionUri));
  ASSERT_TRUE (ext) << "no element for " << kAbsCaptureTimeExtensionUri
                    << " (is the rtcstream plugin on GST_PLUGIN_PATH?)";
  EXPECT_TRUE (RTCSTREAM_IS_ABS_CAPTURE_TIME_EXTENSION (ext.get ()));
  gst_rtp_header_extension_set_id (ext.get (), kAbsCaptureTimeExtensionId);

  GstBuffer *input = gst_buffer_new ();
  GstBuffer *packet = gst_buffer_new ();
  guint8 data[16];
  const auto flags = GST_RTP_HEADER_EXTENSION_ONE_BYTE;
  EXPECT_EQ (gst_rtp_header_extension_write (ext.get (), input, flags, packet, data,
                 sizeof data), 0) << "no capture time: nothing written";
  const GstClockTime captured = ntp_now ();
  set_buffer_capture_time (input, captured);
  ASSERT_EQ (gst_rtp_header_extension_write (ext.get (), input, flags, packet, data,
                 sizeof data), (gssize) kAbsCaptureTimeSize);
  GstBuffer *output = gst_buffer_new ();
  EXPECT_TRUE (gst_rtp_header_extension_read (ext.get (), flags, data, kAbsCaptureTimeSize,
      output));
  EXPECT_EQ (buffer_capture_time (output), captured);
  // A short one is ignored, not a reason to drop the packet.
  GstBuffer *other = gst_buffer_new ();
  EXPECT_TRUE (gst_rtp_header_extension_read (ext.get (), flags, data, 3, other));
  EXPECT_FALSE (GST_CLOCK_TIME_IS_VALID (buffer_capture_time (other)));
  for (GstBuffer *b : {input, packet, output, other})
    gst_buffer_unref (b);
}

}  // namespace
