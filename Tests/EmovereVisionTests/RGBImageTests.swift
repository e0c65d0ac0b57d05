import Testing
import EmovereVision

struct RGBImageTests {
    @Test func grayscaleMatchesOpenCVWeights() {
        var image = RGBImage(width: 5, height: 1)
        image[0, 0] = (255, 0, 0)
        image[1, 0] = (0, 255, 0)
        image[2, 0] = (0, 0, 255)
        image[3, 0] = (255, 255, 255)
        image[4, 0] = (10, 20, 30)
        // cv2.cvtColor(..., COLOR_RGB2GRAY): 76, 150, 29, 255, 18
        #expect(image.grayscale().pixels == [76, 150, 29, 255, 18])
    }

    @Test func grayToRGBRepeatsTheValue() {
        let gray = GrayImage(width: 2, height: 1, pixels: [7, 200])
        #expect(gray.rgb().pixels == [7, 7, 7, 200, 200, 200])
        #expect(gray.rgb().grayscale() == gray)
    }
}
