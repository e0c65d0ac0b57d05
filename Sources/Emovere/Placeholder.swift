import EmovereNN
import EmovereData
