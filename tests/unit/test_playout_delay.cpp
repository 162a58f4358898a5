// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The playout-delay RTP header extension (gst/rtcstream/playout-delay.*): its
// wire format, and the element the plugin registers, written by a real
// payloader into real RTP packets and read back by a real depayloader, both
// finding it by its URI as webrtcbin's do.
#include <gst/gst.h>
#include <gst/rtp/rtp.h>
#include <gtest/gtest.h>

#include <vector>

#include "rtcstream/playout-delay.h"
#include "rtcstream/ref.h"

using namespace rtcstream;

namespace {

TEST (PlayoutDelay, WireFormat)
{
  guint8 data[3];
  // 100 ms = 10 units = 0x00a, 500 ms = 50 units = 0x032.
  write_playout_delay (data, 100, 500);
  EXPECT_EQ (data[0], 0x00);
  EXPECT_EQ (data[1], 0xa0);
  EXPECT_EQ (data[2], 0x32);
  // The largest: 4095 units each.
  write_playout_delay (data, kPlayoutDelayMaxMs, kPlayoutDelayMaxMs);
  EXPECT_EQ (data[0], 0xff);
  EXPECT_EQ (data[1], 0xff);
  EXPECT_EQ (data[2], 0xff);
  write_playout_delay (data, 0, 0);
  EXPECT_EQ (data[0] | data[1] | data[2], 0);
}

TEST (PlayoutDelay, RoundTripRoundsToTensAndClamps)
{
  struct Case { guint min, max, want_min, want_max; };
  for (const Case &c : std::vector<Case>{{0, 0, 0, 0}, {10, 20, 10, 20}, {14, 15, 10, 20},
           {1230, 40950, 1230, 40950}, {50000, 99999, 40950, 40950}}) {
    guint8 data[3];
    write_playout_delay (data, c.min, c.max);
    guint min = 1, max = 1;
    ASSERT_TRUE (read_playout_delay (data, sizeof data, &min, &max));
    EXPECT_EQ (min, c.want_min) << c.min;
    EXPECT_EQ (max, c.want_max) << c.max;
  }
}

TEST (PlayoutDelay, ShortDataIsRefused)
{
  const guint8 data[2] = {0xff, 0xff};
  guint min = 7, max = 7;
  EXPECT_FALSE (read_playout_delay (data, sizeof data, &min, &max));
  EXPECT_EQ (min, 7u);
  EXPECT_EQ (max, 7u);
}

// The registry (the plugin, GST_PLUGIN_PATH) finds it by its URI.
TEST (PlayoutDelay, FoundByUri)
{
  Ref<GstRTPHeaderExtension> ext =
      Ref<GstRTPHeaderExtension>::adopt (gst_rtp_header_extension_create_from_uri (
          kPlayoutDelayExtensionUri));
  ASSERT_TRUE (ext) << "no element for " << kPlayoutDelayExtensionUri
                    << " (is the rtcstream plugin on GST_PLUGIN_PATH?)";
  EXPECT_TRUE (RTCSTREAM_IS_PLAYOUT_DELAY_EXTENSION (ext.get ()));
  EXPECT_STREQ (gst_rtp_header_extension_get_uri (ext.get ()), kPlayoutDelayExtensionUri);
  GstBuffer *meta = gst_buffer_new ();
  EXPECT_EQ (gst_rtp_header_extension_get_max_size (ext.get (), meta), kPlayoutDelaySize);
  gst_buffer_unref (meta);
}

struct Observed {
  std::vector<std::vector<guint8>> payloads;  // the extension's bytes, per packet
  guint packets = 0;
  Ref<GstRTPHeaderExtension> reader;
};

// A payloader and a depayloader negotiate the extension from their caps
// (extmap-6, as webrtcbin gives them) and ask for it by URI; the payloader's
// is set to 100/500 ms, as rtcstreamsink sets its own.
TEST (PlayoutDelay, PayloaderWritesDepayloaderReads)
{
  g_autoptr (GError) err = nullptr;
  const std::string caps = "application/x-rtp,media=video,encoding-name=VP8,clock-rate=90000,"
      "payload=96,extmap-6=" + std::string (kPlayoutDelayExtensionUri);
  const std::string desc = "videotestsrc num-buffers=10 ! video/x-raw,width=160,height=120 ! "
      "vp8enc deadline=1 ! rtpvp8pay name=pay ! " + caps + " ! tee name=t "
      "t. ! queue ! fakesink name=out sync=false "
      "t. ! queue ! rtpvp8depay name=depay ! fakesink sync=false";
  Ref<GstElement> pipeline = Ref<GstElement>::adopt (
      GST_ELEMENT (gst_object_ref_sink (gst_parse_launch (desc.c_str (), &err))));
  ASSERT_TRUE (pipeline) << (err ? err->message : "");
  GstElement *pay = gst_bin_get_by_name (GST_BIN (pipeline.get ()), "pay");
  GstElement *depay = gst_bin_get_by_name (GST_BIN (pipeline.get ()), "depay");
  GstElement *out = gst_bin_get_by_name (GST_BIN (pipeline.get ()), "out");
  Observed run;
  g_signal_connect (pay, "request-extension", G_CALLBACK (+[] (GstElement *, guint id,
      const char *uri, gpointer) -> GstRTPHeaderExtension * {
    GstRTPHeaderExtension *ext = gst_rtp_header_extension_create_from_uri (uri);
    if (ext) {
      gst_rtp_header_extension_set_id (ext, id);
      g_object_set (ext, "min-delay", 100u, "max-delay", 500u, nullptr);
    }
    return ext;
  }), nullptr);
  g_signal_connect (depay, "request-extension", G_CALLBACK (+[] (GstElement *, guint id,
      const char *uri, gpointer data) -> GstRTPHeaderExtension * {
    GstRTPHeaderExtension *ext = gst_rtp_header_extension_create_from_uri (uri);
    if (ext) {
      gst_rtp_header_extension_set_id (ext, id);
      static_cast<Observed *> (data)->reader = Ref<GstRTPHeaderExtension>::take_ref (ext);
    }
    return ext;
  }), &run);
  GstPad *pad = gst_element_get_static_pad (out, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, [] (GstPad *, GstPadProbeInfo *info,
      gpointer data) -> GstPadProbeReturn {
    auto *r = static_cast<Observed *> (data);
    GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
    if (gst_rtp_buffer_map (GST_PAD_PROBE_INFO_BUFFER (info), GST_MAP_READ, &rtp)) {
      r->packets++;
      gpointer bytes = nullptr;
      guint size = 0;
      if (gst_rtp_buffer_get_extension_onebyte_header (&rtp, kPlayoutDelayExtensionId, 0,
              &bytes, &size)) {
        const auto *b = static_cast<const guint8 *> (bytes);
        r->payloads.emplace_back (b, b + size);
      }
      gst_rtp_buffer_unmap (&rtp);
    }
    return GST_PAD_PROBE_OK;
  }, &run, nullptr);
  gst_object_unref (pad);

  ASSERT_NE (gst_element_set_state (pipeline.get (), GST_STATE_PLAYING),
      GST_STATE_CHANGE_FAILURE);
  GstBus *bus = gst_element_get_bus (pipeline.get ());
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 20 * GST_SECOND,
      (GstMessageType) (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  ASSERT_NE (msg, nullptr) << "no EOS within 20 s";
  EXPECT_EQ (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipeline.get (), GST_STATE_NULL);

  EXPECT_GE (run.packets, 10u);
  EXPECT_EQ (run.payloads.size (), run.packets) << "every packet carries the extension";
  for (const auto &p : run.payloads)
    EXPECT_EQ (p, (std::vector<guint8>{0x00, 0xa0, 0x32}));
  ASSERT_TRUE (run.reader) << "the depayloader asked for no playout-delay extension";
  guint min = 0, max = 0;
  g_object_get (run.reader.get (), "min-delay", &min, "max-delay", &max, nullptr);
  EXPECT_EQ (min, 100u);
  EXPECT_EQ (max, 500u);
  gst_object_unref (pay);
  gst_object_unref (depay);
  gst_object_unref (out);
}

}  // namespace
