// Image folders: class and file order, decoding, the resize + centre-crop pipeline against
// hand-computed pixels, the errors (each naming the file).
#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

// The test writes its own PNG and JPEG files with stb_image_write (implementation here only).
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include "framework/data/image_folder.h"
#include "framework/ops/ops.h"
#include "tests/common/temp_dir.h"

using oa::Shape;
using oa::Tensor;
using oa::data::ImageFolderOptions;
using oa::test::TempDir;
using oa::test::write_file;

namespace {

// A pixel value 0..255 for (channel, row, col).
using PixelFn = std::function<int(int, int, int)>;

// Writes an h x w image with `channels` channels; PNG or JPEG by the extension.
void write_image(const std::string& path, int h, int w, int channels, const PixelFn& pixel) {
  std::vector<unsigned char> bytes;  // interleaved, as image files store them
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c) bytes.push_back(static_cast<unsigned char>(pixel(c, y, x)));
  const bool png = path.ends_with(".png") || path.ends_with(".PNG");
  const int ok = png ? stbi_write_png(path.c_str(), w, h, channels, bytes.data(), w * channels)
                     : stbi_write_jpg(path.c_str(), w, h, channels, bytes.data(), 95);
  REQUIRE(ok != 0);
}

PixelFn constant(int value) {
  return [value](int, int, int) { return value; };
}

Tensor row_tensor(const std::vector<float>& values) {
  return Tensor::from_vector(values, {1, static_cast<std::int64_t>(values.size())});
}

}  // namespace

TEST_CASE("image folder: classes sorted by name, files sorted, other files skipped") {
  TempDir dir;
  write_image(dir.file("dog/b.png"), 8, 10, 3, constant(40));
  write_image(dir.file("dog/a.png"), 12, 6, 3, constant(30));
  write_image(dir.file("ant/x.PNG"), 6, 6, 3, constant(10));
  write_image(dir.file("cat/c.jpeg"), 16, 16, 3, constant(200));
  write_file(dir.file("cat/notes.txt"), "not an image");
  write_file(dir.file("README"), "a file in the root is not a class");

  const auto d = oa::data::load_image_folder(dir.path.string(), {.resize = 6, .crop = 4});
  CHECK(d.images.shape() == Shape{4, 3, 4, 4});
  CHECK(d.classes == 3);
  CHECK(d.class_names == std::vector<std::string>{"ant", "cat", "dog"});
  CHECK(d.labels.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2, 2});
  // Constant images stay constant through resize and crop (the JPEG up to its compression).
  CHECK(d.images.at({0, 2, 3, 3}) == doctest::Approx(10 / 255.0));
  CHECK(d.images.at({1, 0, 1, 2}) == doctest::Approx(200 / 255.0).epsilon(0.02));
  CHECK(d.images.at({2, 1, 0, 0}) == doctest::Approx(30 / 255.0));  // dog/a.png before dog/b.png
  CHECK(d.images.at({3, 1, 2, 1}) == doctest::Approx(40 / 255.0));
}

TEST_CASE("image folder: a known pixel through decode, resize and centre crop") {
  TempDir dir;
  const PixelFn pixel = [](int c, int y, int x) { return 60 * c + 12 * y + x; };
  SUBCASE("no resize needed: the crop is the centre of the image, exactly") {
    write_image(dir.file("img.png"), 8, 12, 3, pixel);
    const Tensor img = oa::data::load_image(dir.file("img.png"), {.resize = 8, .crop = 6});
    REQUIRE(img.shape() == Shape{3, 6, 6});
    // The crop starts at row (8 - 6) / 2 = 1 and column (12 - 6) / 2 = 3.
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 6; ++y)
        for (int x = 0; x < 6; ++x) REQUIRE(img.at({c, y, x}) == static_cast<float>(pixel(c, y + 1, x + 3)) / 255.0f);
  }
  SUBCASE("enlarging: 4x6 -> 8x12 (the long side keeps the ratio), then the centre 8x8") {
    write_image(dir.file("img.png"), 4, 6, 3, [](int, int, int x) { return 40 * x; });
    const Tensor img = oa::data::load_image(dir.file("img.png"), {.resize = 8, .crop = 8});
    REQUIRE(img.shape() == Shape{3, 8, 8});
    // Column j of the 12 wide image samples the input at x = (j + 0.5) / 2 - 0.5 (in pixel
    // indices). Crop column 0 is column 2: x = 0.75, so 0.25 * 0 + 0.75 * 40 = 30.
    CHECK(img.at({0, 5, 0}) == doctest::Approx(30 / 255.0));
    // Crop column 7 is column 9: x = 4.25, so 0.75 * 160 + 0.25 * 200 = 170.
    CHECK(img.at({2, 0, 7}) == doctest::Approx(170 / 255.0));
  }
  SUBCASE("grayscale: one channel") {
    write_image(dir.file("gray.png"), 5, 5, 1, pixel);
    const Tensor img = oa::data::load_image(dir.file("gray.png"), {.resize = 5, .crop = 3, .grayscale = true});
    REQUIRE(img.shape() == Shape{1, 3, 3});
    CHECK(img.at({0, 0, 0}) == static_cast<float>(pixel(0, 1, 1)) / 255.0f);
    // A one-channel file read as RGB repeats the grey value in every channel.
    const Tensor rgb = oa::data::load_image(dir.file("gray.png"), {.resize = 5, .crop = 3});
    CHECK(rgb.at({2, 1, 2}) == static_cast<float>(pixel(0, 2, 3)) / 255.0f);
  }
  SUBCASE("landscape and portrait give the same crop shape") {
    write_image(dir.file("wide.png"), 10, 20, 3, pixel);
    write_image(dir.file("tall.png"), 20, 10, 3, pixel);
    CHECK(oa::data::load_image(dir.file("wide.png"), {.resize = 5, .crop = 4}).shape() == Shape{3, 4, 4});
    CHECK(oa::data::load_image(dir.file("tall.png"), {.resize = 5, .crop = 4}).shape() == Shape{3, 4, 4});
  }
}

TEST_CASE("resize_bilinear: bilinear when enlarging, a wider triangle when shrinking") {
  // Enlarging x2: output centres at input x = 0.25, 0.75, 1.25, 1.75; the borders clamp.
  CHECK(oa::data::resize_bilinear(row_tensor({0, 1}), 1, 4).to_vector<float>() ==
        std::vector<float>{0.0f, 0.25f, 0.75f, 1.0f});
  // Shrinking x2: the triangle spans 2 pixels each side; output 0 (centre x = 1) weighs
  // x = 0, 1, 2 by 0.75, 0.75, 0.25 (normalised by 1.75).
  const auto shrunk = oa::data::resize_bilinear(row_tensor({0, 1, 2, 3}), 1, 2).to_vector<float>();
  CHECK(shrunk[0] == doctest::Approx(5.0 / 7.0));
  CHECK(shrunk[1] == doctest::Approx(16.0 / 7.0));
  // Leading dims are kept; a constant stays constant.
  const Tensor batch = Tensor::full({2, 3, 7, 5}, 0.5);
  const Tensor resized = oa::data::resize_bilinear(batch, 4, 9);
  CHECK(resized.shape() == Shape{2, 3, 4, 9});
  for (float v : resized.to_vector<float>()) REQUIRE(v == doctest::Approx(0.5));
  CHECK_THROWS_WITH(oa::data::resize_bilinear(batch, 0, 3), doctest::Contains("cannot resize"));
}

TEST_CASE("center_crop: the middle window, odd margins split as torchvision rounds them") {
  std::vector<float> values(25);
  for (int i = 0; i < 25; ++i) values[i] = static_cast<float>(i);
  const Tensor crop = oa::data::center_crop(Tensor::from_vector(values, {1, 5, 5}), 2, 3);
  // As torchvision: top = round(1.5) = 2 (halves to even), left = round(1.0) = 1.
  CHECK(crop.to_vector<float>() == std::vector<float>{11, 12, 13, 16, 17, 18});
  // round(2.5) = 2: the extra row of an odd margin goes below this time.
  const Tensor rows = oa::data::center_crop(Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5, 6}, {7, 1}), 2, 1);
  CHECK(rows.to_vector<float>() == std::vector<float>{2, 3});
  CHECK_THROWS_WITH(oa::data::center_crop(Tensor::zeros({1, 5, 5}), 6, 1), doctest::Contains("cannot crop"));
}

TEST_CASE("image folder: errors name the file or directory") {
  TempDir dir;
  SUBCASE("an undecodable image") {
    std::mt19937 engine(7);
    std::string noise(500, '\0');
    for (char& byte : noise) byte = static_cast<char>(engine() & 0xff);
    write_image(dir.file("cls/good.png"), 4, 4, 3, constant(1));
    write_file(dir.file("cls/broken.jpg"), noise);
    const std::string expected = dir.file("cls/broken.jpg") + ": cannot decode image: ";
    CHECK_THROWS_WITH(oa::data::load_image(dir.file("cls/broken.jpg"), {.resize = 4, .crop = 4}),
                      doctest::Contains(expected.c_str()));
    CHECK_THROWS_WITH(oa::data::load_image_folder(dir.path.string(), {.resize = 4, .crop = 4}),
                      doctest::Contains(expected.c_str()));
  }
  SUBCASE("an empty class directory") {
    write_image(dir.file("a/x.png"), 4, 4, 3, constant(1));
    std::filesystem::create_directories(dir.path / "b");
    write_file(dir.file("b/readme.txt"), "no images here");
    CHECK_THROWS_WITH(oa::data::load_image_folder(dir.path.string()),
                      doctest::Contains(((dir.path / "b").string() + " holds no image files (.jpg, .jpeg, .png").c_str()));
  }
  SUBCASE("no classes") {
    write_file(dir.file("x.png"), "images must be inside class directories");
    CHECK_THROWS_WITH(oa::data::load_image_folder(dir.path.string()), doctest::Contains("no class directories"));
  }
  SUBCASE("no directory") {
    CHECK_THROWS_WITH(oa::data::load_image_folder(dir.file("missing")), doctest::Contains("not a directory"));
  }
  SUBCASE("crop larger than resize") {
    CHECK_THROWS_WITH(oa::data::load_image_folder(dir.path.string(), {.resize = 4, .crop = 5}),
                      doctest::Contains("need 1 <= crop <= resize"));
  }
}

TEST_CASE("image folder: ImageFolder's extensions, nested folders and order") {
  TempDir dir;
  write_image(dir.file("cls/z.png"), 4, 4, 3, constant(10));
  write_image(dir.file("cls/sub/a.png"), 4, 4, 3, constant(20));  // after cls/z.png: the walk sorts by folder
  write_image(dir.file("cls/b.JPEG"), 4, 4, 3, constant(30));
  stbi_write_bmp(dir.file("cls/c.bmp").c_str(), 4, 4, 3, std::vector<unsigned char>(48, 40).data());
  write_file(dir.file("cls/d.gif"), "GIF is not an ImageFolder extension");
  const auto index = oa::data::index_image_folder(dir.path.string());
  std::vector<std::string> names;
  for (const auto& f : index.files) names.push_back(std::filesystem::relative(f, dir.path).string());
  CHECK(names == std::vector<std::string>{"cls/b.JPEG", "cls/c.bmp", "cls/z.png", "cls/sub/a.png"});
  // --limit: only the first files are listed, so only they are read.
  CHECK(oa::data::index_image_folder(dir.path.string(), 2).files.size() == 2);
  const auto d = oa::data::load_image_folder(dir.path.string(), {.resize = 4, .crop = 4}, 3);
  CHECK(d.size() == 3);
  CHECK(d.images.at({1, 0, 0, 0}) == doctest::Approx(40 / 255.0));  // the BMP
  // .tif/.tiff/.webp are ImageFolder images (they keep its indices) that stb_image cannot read.
  write_file(dir.file("cls/e.webp"), "RIFF");
  CHECK_THROWS_WITH(oa::data::load_image_folder(dir.path.string(), {.resize = 4, .crop = 4}),
                    doctest::Contains((dir.file("cls/e.webp") + ": cannot decode image: stb_image reads JPEG, PNG, BMP "
                                                                "and PPM/PGM, not .webp")
                                          .c_str()));
}

TEST_CASE("image folder: hostile images give an error naming the file, or a documented conversion") {
  TempDir dir;
  const ImageFolderOptions options{.resize = 4, .crop = 4};
  SUBCASE("zero-size file") {
    write_file(dir.file("empty.png"), "");
    CHECK_THROWS_WITH(oa::data::load_image(dir.file("empty.png"), options),
                      doctest::Contains((dir.file("empty.png") + ": cannot decode image").c_str()));
  }
  SUBCASE("truncated PNG and JPEG") {
    // A PNG cut short is refused by our chunk check (its data chunk runs past the end), before
    // stb_image sees it; a JPEG cut short by stb_image.
    for (const auto& [ext, reason] : {std::pair<std::string, std::string>{".png", "corrupt PNG: chunk 'IDAT'"},
                                      {".jpg", "cannot decode image"}}) {
      write_image(dir.file("full" + ext), 32, 32, 3, [](int c, int y, int x) { return (c * 71 + y * 13 + x * 7) % 256; });
      const std::string bytes = oa::test::read_file(dir.file("full" + ext));
      write_file(dir.file("cut" + ext), bytes.substr(0, bytes.size() / 2));
      CHECK_THROWS_WITH(oa::data::load_image(dir.file("cut" + ext), options),
                        doctest::Contains((dir.file("cut" + ext) + ": " + reason).c_str()));
    }
  }
  SUBCASE("a header claiming huge dimensions is refused before decoding") {
    write_image(dir.file("small.png"), 1, 1, 3, constant(0));
    std::string bytes = oa::test::read_file(dir.file("small.png"));
    // IHDR's width and height: big-endian 32-bit at offsets 16 and 20 -> 10000 x 10000, 100 Mpixel:
    // within what stb_image accepts, above kMaxImagePixels (decoding would need 1.2 GB as float).
    for (int offset : {16, 20}) {
      const std::uint32_t huge = 10000;
      for (int k = 0; k < 4; ++k) bytes[offset + k] = static_cast<char>((huge >> (24 - 8 * k)) & 0xff);
    }
    write_file(dir.file("huge.png"), bytes);
    CHECK_THROWS_WITH(oa::data::load_image(dir.file("huge.png"), options),
                      doctest::Contains((dir.file("huge.png") + ": the image is 10000x10000 pixels").c_str()));
  }
  SUBCASE("PNG with alpha: the alpha channel is dropped, not composited") {
    write_image(dir.file("rgba.png"), 4, 4, 4, [](int c, int, int) { return c == 3 ? 0 : 50 * (c + 1); });
    const Tensor img = oa::data::load_image(dir.file("rgba.png"), options);
    REQUIRE(img.shape() == Shape{3, 4, 4});
    for (int c = 0; c < 3; ++c) CHECK(img.at({c, 2, 1}) == static_cast<float>(50 * (c + 1)) / 255.0f);
  }
  SUBCASE("grey-scale JPEG: the grey value in R, G and B") {
    write_image(dir.file("grey.jpg"), 8, 8, 1, constant(90));
    const Tensor img = oa::data::load_image(dir.file("grey.jpg"), options);
    REQUIRE(img.shape() == Shape{3, 4, 4});
    CHECK(img.at({0, 1, 1}) == img.at({2, 1, 1}));
    CHECK(img.at({1, 1, 1}) == doctest::Approx(90 / 255.0).epsilon(0.02));
  }
}
