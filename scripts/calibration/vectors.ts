/** The calibration's synthetic pairs live beside the table code, so the Lambda check and the local check use the same ones. */
export * from '../../lambda/shared/embedding-vectors.js';
